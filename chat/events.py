"""The chat app's realtime events: their names, their payloads, and who receives them.

Every function here runs inside the service's transaction and appends durable events to the
recipients' streams (fastsock.core.streams), which reach sockets after commit. Recipients are
the room's members *at that moment*, read in the same transaction: a removed member gets
nothing more, an added one gets everything from then on, and there is no broadcast path.
"""

from __future__ import annotations

from typing import Any

from fastsock.core.streams import Entry, stream_append, stream_append_many

from . import payloads, selectors
from .models import Membership, Message, Reaction, Room

MESSAGE_NEW = "message.new"
MESSAGE_UPDATED = "message.updated"
MESSAGE_DELETED = "message.deleted"
MESSAGE_REACTION = "message.reaction"
MESSAGE_DELIVERED = "message.delivered"
MESSAGE_READ = "message.read"
UNREAD = "unread"
ROOM_CREATED = "room.created"
ROOM_UPDATED = "room.updated"
ROOM_MEMBER_ADDED = "room.member_added"
ROOM_MEMBER_REMOVED = "room.member_removed"
# Ephemeral (no seq): relayed to members' sockets, never stored.
TYPING = "typing"
# Client → server events handled by chat/consumers.py.
CLIENT_EVENTS = (
    "message.send", "message.edit", "message.delete", "message.react", "message.delivered", "message.read",
    "typing.start", "typing.stop",
)  # fmt: skip


def _unread_entries(room_id: int, unread_counts: dict[int, int]) -> list[Entry]:
    return [(user_id, UNREAD, {"room_id": room_id, "unread_count": count}) for user_id, count in unread_counts.items()]


def notify_message_new(message: Message) -> None:
    """``message.new`` to every member, for a message that counts as unread for nobody (a
    system message); members' sends go through :func:`notify_messages_new`."""
    data = {"message": payloads.message_payload(message)}
    stream_append_many([(user_id, MESSAGE_NEW, data) for user_id in selectors.member_ids(room_id=message.room_id)])


def notify_messages_new(messages: list[Message], *, unread_counts: dict[tuple[int, int], int]) -> None:
    """``message.new`` for each sent message to every member of its room (the sender's other
    devices too), in order; then one ``unread`` to each member whose count they raised.

    ``unread_counts`` are the raised counts by ``(room_id, user_id)``, from the same
    transaction, so they also name the recipients: every member of a room but those who sent
    all of its new messages, who are the senders.
    """
    members_of: dict[int, set[int]] = {}
    for room_id, user_id in unread_counts:
        members_of.setdefault(room_id, set()).add(user_id)
    for message in messages:
        members_of.setdefault(message.room_id, set()).add(message.sender_id)
    entries: list[Entry] = []
    for message in messages:
        data = {"message": payloads.message_payload(message)}
        entries += [(user_id, MESSAGE_NEW, data) for user_id in sorted(members_of[message.room_id])]
    entries += [
        (user_id, UNREAD, {"room_id": room_id, "unread_count": count})
        for (room_id, user_id), count in unread_counts.items()
    ]
    stream_append_many(entries)


def notify_message_changed(message: Message, *, event: str, unread_counts: dict[int, int] | None = None) -> None:
    """An edit or a delete to every member; a delete also tells those it was unread for their new count."""
    data = {"message": payloads.message_payload(message)}
    members = selectors.member_ids(room_id=message.room_id)
    entries: list[Entry] = [(user_id, event, data) for user_id in members]
    entries += _unread_entries(message.room_id, unread_counts or {})
    stream_append_many(entries)


def reaction_state(message: Message) -> list[dict[str, Any]]:
    """Per emoji: count and who — each client works out ``me`` for itself."""
    summary: dict[str, dict[str, Any]] = {}
    for emoji, user_id in Reaction.objects.filter(message=message).order_by("id").values_list("emoji", "user_id"):
        entry = summary.setdefault(emoji, {"emoji": emoji, "count": 0, "user_ids": []})
        entry["count"] += 1
        entry["user_ids"].append(user_id)
    return list(summary.values())


def notify_reaction(message: Message, *, user_id: int, emoji: str, on: bool) -> None:
    stream_append(
        user_ids=selectors.member_ids(room_id=message.room_id),
        event=MESSAGE_REACTION,
        data={
            "message_id": message.pk,
            "room_id": message.room_id,
            "user_id": user_id,
            "emoji": emoji,
            "on": on,
            "reactions": reaction_state(message),
        },
    )


def notify_watermark(membership: Membership, *, event: str, message_id: int) -> None:
    """``message.read``/``message.delivered`` (up to ``message_id``) to the room's members."""
    data = {"room_id": membership.room_id, "user_id": membership.user_id, "message_id": message_id}
    stream_append(user_ids=selectors.member_ids(room_id=membership.room_id), event=event, data=data)


def notify_unread(membership: Membership, *, unread_count: int) -> None:
    """The member's own devices learn their new unread count for the room."""
    stream_append(
        user_ids=[membership.user_id],
        event=UNREAD,
        data={"room_id": membership.room_id, "unread_count": unread_count},
    )


def notify_room(room: Room, *, event: str, extra_user_ids: tuple[int, ...] = (), **data: Any) -> None:
    """Room lifecycle events to the current members (and, for removals, the removed person)."""
    payload = {"room": payloads.room_payload(room), **data}
    stream_append(user_ids=[*selectors.member_ids(room_id=room.pk), *extra_user_ids], event=event, data=payload)
