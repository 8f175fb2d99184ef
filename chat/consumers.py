"""Handlers for the chat's client WebSocket events, registered with the core router.

Each handler checks the frame's fields, asks the one room-access rule (chat.selectors,
``memberships_for_many`` and its one-room form ``membership_for``), and calls the services the
REST API calls; sends from all of a process's sockets are stored in batches (SendBatcher).
What the services change reaches every member's sockets through their durable streams
(chat/events.py); handlers answer only the sender's own socket (``message.ack``).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings

from fastsock.core.errors import ApiError, invalid_field
from fastsock.core.ratelimit import rate_limit_user, rate_limit_users
from fastsock.core.realtime import publish_ephemeral
from fastsock.core.websocket.db import database_sync_to_async
from fastsock.core.websocket.protocol import Frame, register_handler

from . import events, payloads, selectors, services
from .models import Message

if TYPE_CHECKING:
    from fastsock.core.websocket.consumer import SocketConsumer


def _int(data: dict[str, Any], field: str, *, required: bool = True) -> int | None:
    value = data.get(field)
    if value is None:
        if required:
            raise invalid_field(field, "This field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid_field(field, "Must be a positive integer.")
    return value


def _text(data: dict[str, Any], field: str, *, required: bool = True) -> str | None:
    value = data.get(field)
    if value is None:
        if required:
            raise invalid_field(field, "This field is required.")
        return None
    if not isinstance(value, str):
        raise invalid_field(field, "Must be a string.")
    return value


# --- Messages ---------------------------------------------------------------------------------


def _send_many(sends: list[tuple[Any, dict[str, Any]]]) -> list[tuple[dict[str, Any], bool] | Exception]:
    """Store a batch of ``message.send`` frames; for each, the ``message.ack`` payload and
    whether it was new, or the error to answer that frame with."""
    outcomes: list[tuple[dict[str, Any], bool] | Exception | None] = [None] * len(sends)
    requests: list[tuple[int, services.SendRequest]] = []
    limited = rate_limit_users(user_ids=[user.pk for user, _ in sends], action="chat.message.user")
    for index, (user, data) in enumerate(sends):
        try:
            if limited[index] is not None:
                raise limited[index]
            requests.append((index, services.SendRequest(
                user=user,
                room_id=_int(data, "room_id"),
                content=_text(data, "content", required=False) or "",
                client_id=_text(data, "client_id"),
                type=_text(data, "type", required=False),
                attachment_id=_int(data, "attachment_id", required=False),
                reply_to_id=_int(data, "reply_to", required=False),
            )))  # fmt: skip
        except ApiError as error:
            outcomes[index] = error
    stored = services.messages_send_many([request for _, request in requests])
    for (index, request), outcome in zip(requests, stored, strict=True):
        if isinstance(outcome, Exception):
            outcomes[index] = outcome
            continue
        message, created = outcome
        if created:
            outcomes[index] = (payloads.message_payload(message), True)  # a new message has no reactions yet
            continue
        reactions = selectors.reaction_summaries(message_ids=[message.pk], viewer_id=request.user.pk)
        outcomes[index] = (payloads.message_payload(message, reactions=reactions.get(message.pk)), False)
    return cast("list[Any]", outcomes)  # every entry was filled above, in request order


class SendBatcher:
    """Stores the sends of every socket of this process, one batch at a time (group commit).

    Sends that arrive while a batch is being stored wait for it, then go together in the
    next: one thread hop, one transaction and a few statements for all of them rather than
    for each, which is what lets a process keep up under load. A send that finds nothing
    being stored goes at once, alone. A socket has at most one send in flight (its frames
    are handled in order), so its messages keep their order.
    """

    MAX_BATCH = 200

    def __init__(self) -> None:
        self.waiting: list[tuple[Any, dict[str, Any], asyncio.Future[Any]]] = []
        self.storing: asyncio.Task[None] | None = None

    async def send(self, user: Any, data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.append((user, data, future))
        if self.storing is None:
            self.storing = asyncio.ensure_future(self.store_waiting())
        return await future

    async def store_waiting(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[: self.MAX_BATCH], self.waiting[self.MAX_BATCH :]
                try:
                    outcomes = await database_sync_to_async(_send_many)([(user, data) for user, data, _ in batch])
                except Exception as error:  # noqa: BLE001 - every send of the batch answers with it
                    outcomes = [error] * len(batch)
                for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue  # its socket closed meanwhile; the message is stored all the same
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self.storing = None


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SendBatcher] = weakref.WeakKeyDictionary()


def send_batcher() -> SendBatcher:
    """This process's batcher (one per event loop: tests run each on a loop of its own)."""
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = SendBatcher()
    return batcher


async def handle_message_send(consumer: SocketConsumer, frame: Frame) -> None:
    """Store, then ``message.ack`` to this socket (Sent); ``message.new`` reaches members by stream."""
    client_id = frame.data.get("client_id")
    try:
        message, created = await send_batcher().send(consumer.user, frame.data)
    except ApiError as error:
        if isinstance(client_id, str):
            # Lets the client mark exactly that local echo as failed.
            error.details = {**error.details, "client_id": client_id}
        raise
    await consumer.send_event(
        "message.ack", {"client_id": message["client_id"], "message": message, "duplicate": not created}, ref=frame.ref
    )


def _edit(user: Any, data: dict[str, Any]) -> None:
    rate_limit_user(user_id=user.pk, action="chat.write.user")
    message, membership = selectors.message_for(message_id=_int(data, "message_id"), user=user)
    services.message_edit(membership=membership, message=message, content=_text(data, "content") or "")


def _delete(user: Any, data: dict[str, Any]) -> None:
    rate_limit_user(user_id=user.pk, action="chat.write.user")
    message, membership = selectors.message_for(message_id=_int(data, "message_id"), user=user)
    services.message_delete(membership=membership, message=message)


def _react(user: Any, data: dict[str, Any]) -> None:
    rate_limit_user(user_id=user.pk, action="chat.reaction.user")
    on = data.get("on", True)
    if not isinstance(on, bool):
        raise invalid_field("on", "Must be true or false.")
    message, membership = selectors.message_for(message_id=_int(data, "message_id"), user=user)
    emoji = _text(data, "emoji") or ""
    if on:
        services.reaction_add(membership=membership, message=message, emoji=emoji)
    else:
        services.reaction_remove(membership=membership, message=message, emoji=emoji)


def _delivered(user: Any, data: dict[str, Any]) -> None:
    """Move the delivered watermark of each room up to the highest of the ids this client has."""
    ids = data.get("message_ids")
    if not isinstance(ids, list) or not ids or len(ids) > 500:
        raise invalid_field("message_ids", "A list of 1 to 500 message ids.")
    if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise invalid_field("message_ids", "Message ids are integers.")
    highest: dict[int, int] = {}
    rows = Message.objects.filter(pk__in=ids, room__memberships__user=user).values_list("room_id", "id")
    for room_id, message_id in rows:
        highest[room_id] = max(highest.get(room_id, 0), message_id)
    for room_id, message_id in highest.items():
        membership = selectors.membership_for(room_id=room_id, user=user)
        services.room_mark_delivered(membership=membership, message_id=message_id)


def _read(user: Any, data: dict[str, Any]) -> None:
    rate_limit_user(user_id=user.pk, action="chat.write.user")
    membership = selectors.membership_for(room_id=_int(data, "room_id"), user=user)
    services.room_mark_read(membership=membership, message_id=_int(data, "message_id", required=False))


def _runs(service: Any) -> Any:
    async def handle(consumer: SocketConsumer, frame: Frame) -> None:
        await database_sync_to_async(service)(consumer.user, frame.data)

    return handle


# --- Typing (ephemeral) -----------------------------------------------------------------------


def _typing_recipients(user: Any, data: dict[str, Any]) -> tuple[int, list[int]]:
    membership = selectors.membership_for(room_id=_int(data, "room_id"), user=user)
    others = [user_id for user_id in selectors.member_ids(room_id=membership.room_id) if user_id != user.pk]
    return membership.room_id, others


def _relay_typing(room_id: int, user_id: int, recipients: list[int], *, active: bool) -> None:
    publish_ephemeral(recipients, events.TYPING, {"room_id": room_id, "user_id": user_id, "active": active})


class TypingState:
    """This socket's typing rooms: repeats throttled, and a forgotten ``typing.stop`` expires."""

    def __init__(self) -> None:
        self.last_start: dict[int, float] = {}
        self.expiry: dict[int, asyncio.Task[None]] = {}
        self.recipients: dict[int, list[int]] = {}


def _typing(consumer: SocketConsumer) -> TypingState:
    state = getattr(consumer, "typing_state", None)
    if state is None:
        state = consumer.typing_state = TypingState()
        consumer.on_disconnect(lambda: _stop_all_typing(consumer, state))
    return state


async def _send_typing(consumer: SocketConsumer, room_id: int, recipients: list[int], *, active: bool) -> None:
    await database_sync_to_async(_relay_typing)(room_id, consumer.user.pk, recipients, active=active)


async def handle_typing_start(consumer: SocketConsumer, frame: Frame) -> None:
    room_id, recipients = await database_sync_to_async(_typing_recipients)(consumer.user, frame.data)
    state = _typing(consumer)
    now = time.monotonic()
    if room_id in state.expiry:
        state.expiry.pop(room_id).cancel()
    state.expiry[room_id] = asyncio.ensure_future(_expire_typing(consumer, state, room_id))
    state.recipients[room_id] = recipients
    if now - state.last_start.get(room_id, -1e9) < settings.TYPING_REPEAT_SECONDS:
        return  # still typing: the others were told moments ago
    state.last_start[room_id] = now
    await _send_typing(consumer, room_id, recipients, active=True)


async def handle_typing_stop(consumer: SocketConsumer, frame: Frame) -> None:
    room_id, recipients = await database_sync_to_async(_typing_recipients)(consumer.user, frame.data)
    state = _typing(consumer)
    task = state.expiry.pop(room_id, None)
    if task is not None:
        task.cancel()
    state.last_start.pop(room_id, None)
    state.recipients.pop(room_id, None)
    await _send_typing(consumer, room_id, recipients, active=False)


async def _expire_typing(consumer: SocketConsumer, state: TypingState, room_id: int) -> None:
    await asyncio.sleep(settings.TYPING_TIMEOUT_SECONDS)
    state.expiry.pop(room_id, None)
    state.last_start.pop(room_id, None)
    recipients = state.recipients.pop(room_id, [])
    await _send_typing(consumer, room_id, recipients, active=False)


async def _stop_all_typing(consumer: SocketConsumer, state: TypingState) -> None:
    """The socket closed (or the client crashed) mid-typing: tell the others it stopped."""
    for room_id, task in list(state.expiry.items()):
        task.cancel()
        await _send_typing(consumer, room_id, state.recipients.get(room_id, []), active=False)
    state.expiry.clear()


def register() -> None:
    register_handler("message.send", handle_message_send)
    register_handler("message.edit", _runs(_edit))
    register_handler("message.delete", _runs(_delete))
    register_handler("message.react", _runs(_react))
    register_handler("message.delivered", _runs(_delivered))
    register_handler("message.read", _runs(_read))
    register_handler("typing.start", handle_typing_start)
    register_handler("typing.stop", handle_typing_stop)
