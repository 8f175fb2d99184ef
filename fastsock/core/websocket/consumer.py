"""One consumer per connection at ``/ws/``: parse, check, route; no domain logic here."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qs

import structlog
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from fastsock.core import presence, streams
from fastsock.core.errors import ApiError, ErrorCode
from fastsock.core.metrics import WEBSOCKET_CONNECTIONS, WEBSOCKET_FRAMES
from fastsock.core.realtime import user_group

from . import protocol
from .db import database_sync_to_async

logger = structlog.get_logger(__name__)

try:  # Daphne (our server) raises autobahn's error for a send after the client went away.
    from autobahn.exception import Disconnected as _AutobahnDisconnected

    PEER_GONE_ERRORS: tuple[type[BaseException], ...] = (_AutobahnDisconnected,)
except ImportError:  # pragma: no cover - another ASGI server
    PEER_GONE_ERRORS = ()


class FrameBudget:
    """A token bucket per connection: bursts are fine, floods get ``rate_limited``."""

    def __init__(self, rate_per_second: float, burst: int) -> None:
        self.rate = rate_per_second
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def mark_seen(user_id: int) -> str:
    """Store and return (ISO 8601) when the user was last seen."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    now = timezone.now()
    get_user_model().objects.filter(pk=user_id).update(last_seen=now)
    return now.isoformat().replace("+00:00", "Z")


def requested_since(scope: dict[str, Any]) -> int | None:
    """The ``?since=<seq>`` a resuming client sent; anything unparsable counts as no resume."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("since")
    if not values:
        return None
    try:
        since = int(values[0])
    except ValueError:
        return -1  # forces a resync: the client's state cannot be trusted
    return since


class SocketConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        # WebSocketAuthMiddleware refused every unauthenticated handshake before this point.
        self.user = self.scope["user"]
        self.budget = FrameBudget(settings.WS_FRAMES_PER_SECOND, settings.WS_FRAME_BURST)
        # Invalid frames get their own, much smaller budget; running out closes the socket.
        self.invalid_frames = FrameBudget(
            settings.WS_INVALID_FRAMES_MAX / settings.WS_INVALID_FRAMES_WINDOW, settings.WS_INVALID_FRAMES_MAX
        )
        self.groups_joined: set[str] = set()
        self.last_seq = 0
        self.disconnect_hooks: list[Any] = []
        # Join first, then read the stream: a poke arriving meanwhile finds last_seq set and
        # is either already sent (dropped as a repeat) or fetched as part of the gap.
        await self.join_group(user_group(self.user.pk))
        # Counted as open before the client hears it is: a tab closing the moment this one
        # opens then never finds the user without sockets.
        came_online = await database_sync_to_async(presence.socket_opened)(
            user_id=self.user.pk, channel=self.channel_name
        )
        self.heartbeat = asyncio.ensure_future(self.presence_heartbeat())
        await self.accept()
        await self.start_stream(requested_since(self.scope))
        if came_online:
            await database_sync_to_async(presence.announce)(user_id=self.user.pk, online=True, last_seen=None)
        self.counted_open = True
        WEBSOCKET_CONNECTIONS.inc()
        structlog.contextvars.bind_contextvars(user_id=self.user.pk)
        logger.info("websocket.connected", user_id=self.user.pk)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Route a message to its handler, without Channels' per-message connection tidy-up.

        Channels closes stale database connections before every message a consumer handles,
        which costs a hop to its sync thread for each event delivered to each socket. Our
        database calls tidy their own connections around each call (``websocket/db.py``).
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def on_disconnect(self, hook: Any) -> None:
        """Run ``await hook()`` when this socket closes (apps clean up their per-socket state)."""
        self.disconnect_hooks.append(hook)

    async def presence_heartbeat(self) -> None:
        while True:
            await asyncio.sleep(settings.PRESENCE_TTL_SECONDS / 3)
            await database_sync_to_async(presence.socket_alive)(user_id=self.user.pk, channel=self.channel_name)

    async def presence_closed(self) -> None:
        heartbeat = getattr(self, "heartbeat", None)
        if heartbeat is None:
            return
        heartbeat.cancel()
        went_offline = await database_sync_to_async(presence.socket_closed)(
            user_id=self.user.pk, channel=self.channel_name
        )
        if went_offline:
            last_seen = await database_sync_to_async(mark_seen)(self.user.pk)
            await database_sync_to_async(presence.announce)(user_id=self.user.pk, online=False, last_seen=last_seen)

    async def disconnect(self, code: int) -> None:
        await self.presence_closed()
        for hook in getattr(self, "disconnect_hooks", []):
            try:
                await hook()
            except Exception:
                logger.exception("websocket.disconnect_hook_failed")
        if getattr(self, "counted_open", False):
            WEBSOCKET_CONNECTIONS.dec()
            self.counted_open = False
        for group in list(self.groups_joined):
            await self.leave_group(group)
        logger.info("websocket.disconnected", user_id=getattr(self.user, "pk", None), code=code)

    async def join_group(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.add(group)

    async def leave_group(self, group: str) -> None:
        await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined.discard(group)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else bytes_data
        size = len(raw.encode("utf-8") if isinstance(raw, str) else (raw or b""))
        if size > settings.WS_MAX_FRAME_BYTES:
            logger.warning("websocket.frame_too_big", size=size, limit=settings.WS_MAX_FRAME_BYTES)
            await self.close_for_size()
            return
        if not self.budget.take():
            await self.send_error(ApiError(ErrorCode.RATE_LIMITED, "Too many frames; slow down."))
            return
        if text_data is None:
            await self.send_error(ApiError(ErrorCode.MALFORMED_REQUEST, "Frames must be JSON text, not binary."))
            return
        frame: protocol.Frame | None = None
        try:
            frame = protocol.parse_frame(text_data)
            await self.dispatch_frame(frame)
            WEBSOCKET_FRAMES.labels("handled").inc()
        except ApiError as error:
            await self.send_error(error, frame.ref if frame else None)
            if error.code in (ErrorCode.INVALID, ErrorCode.MALFORMED_REQUEST) and self.invalid_frames.take() is False:
                # A client that keeps sending garbage is broken or hostile: stop listening to it.
                logger.warning("websocket.too_many_invalid_frames", user_id=self.user.pk)
                await self.close(code=protocol.CLOSE_POLICY_VIOLATION_APPLICATION)
        except Exception:
            logger.exception("websocket.handler_failed", frame_event=frame.event if frame else None)
            await self.send_error(
                ApiError(ErrorCode.SERVER_ERROR, "Something went wrong on our side."), frame.ref if frame else None
            )

    async def close_for_size(self) -> None:
        """Close with 1009; ``manage.py serve`` has Daphne enforce the limit before we see the frame."""
        try:
            await self.close(code=protocol.CLOSE_MESSAGE_TOO_BIG)
        except Exception:  # noqa: BLE001
            # Daphne started without the limit lets applications send only 1000 and 3000-4999.
            await self.close(code=protocol.CLOSE_MESSAGE_TOO_BIG_APPLICATION)

    async def dispatch_frame(self, frame: protocol.Frame) -> None:
        if frame.event == protocol.EVENT_PING:
            await self.send_event(protocol.EVENT_PONG, {}, ref=frame.ref)
            return
        handler = protocol.handler_for(frame.event)
        if handler is None:
            raise ApiError(ErrorCode.INVALID, f"Unknown event {frame.event!r}.", details={"event": ["unknown"]})
        await handler(self, frame)

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        """Send a frame; one that finds the client already gone is dropped.

        An event can be on its way while the client closes the connection. The send then
        fails, and an exception here would end the consumer before it handles the disconnect
        that follows, skipping its clean-up: the user would stay "online" and their typing
        and calls would not end until their timers ran out.
        """
        if getattr(self, "peer_gone", False):
            return
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except PEER_GONE_ERRORS:
            self.peer_gone = True

    async def send_event(self, event: str, data: dict[str, Any], **extra: Any) -> None:
        extra = {key: value for key, value in extra.items() if value is not None}
        await self.send(text_data=protocol.encode_frame(event, data, **extra))

    async def send_error(self, error: ApiError, ref: str | None = None) -> None:
        WEBSOCKET_FRAMES.labels(str(error.code)).inc()
        await self.send(text_data=protocol.error_frame(error, ref))

    async def realtime_event(self, message: dict[str, Any]) -> None:
        """Forward an ephemeral event (typing, presence) published to one of this socket's groups."""
        await self.send_event(message["event"], message["data"])

    async def start_stream(self, since: int | None) -> None:
        """Replay what a resuming client missed, or start from now; ``resync`` if too far behind."""
        last_seq, purged_through = await database_sync_to_async(streams.stream_position)(user_id=self.user.pk)
        if since is None:
            self.last_seq = last_seq
            return
        if since < purged_through or since > last_seq:
            # Older than we keep, or from another life of the stream: reload over REST.
            self.last_seq = last_seq
            await self.send_event(protocol.EVENT_RESYNC, {"seq": last_seq})
            return
        self.last_seq = since
        await self.catch_up()

    async def catch_up(self) -> None:
        """Send every stored event after ``last_seq``, in order."""
        while True:
            events = await database_sync_to_async(streams.stream_read)(user_id=self.user.pk, after_seq=self.last_seq)
            for event in events:
                await self.send_event(event.event, event.data, seq=event.seq)
                self.last_seq = event.seq
            if len(events) < streams.READ_BATCH:
                return

    async def stream_event(self, message: dict[str, Any]) -> None:
        """Durable events were committed for this user: send each once, in order, with no gap."""
        for item in message["events"]:
            seq = item["seq"]
            if seq <= self.last_seq:
                continue  # already sent during catch-up
            if seq != self.last_seq + 1:
                # A poke was lost or overtaken (the layer delivers at most once): the database
                # has everything up to here and beyond.
                await self.catch_up()
                return
            await self.send(text_data=protocol.encode_encoded_frame(item["event"], item["data_json"], seq=seq))
            self.last_seq = seq
