"""One consumer per connection at ``/ws/``: parse, check, route; no domain logic here."""

from __future__ import annotations

import time
from typing import Any

import structlog
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from fastsock.core.errors import ApiError, ErrorCode
from fastsock.core.metrics import WEBSOCKET_CONNECTIONS, WEBSOCKET_FRAMES
from fastsock.core.realtime import user_group

from . import protocol

logger = structlog.get_logger(__name__)


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


class SocketConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        # WebSocketAuthMiddleware refused every unauthenticated handshake before this point.
        self.user = self.scope["user"]
        self.budget = FrameBudget(settings.WS_FRAMES_PER_SECOND, settings.WS_FRAME_BURST)
        self.groups_joined: set[str] = set()
        await self.join_group(user_group(self.user.pk))
        await self.accept()
        self.counted_open = True
        WEBSOCKET_CONNECTIONS.inc()
        structlog.contextvars.bind_contextvars(user_id=self.user.pk)
        logger.info("websocket.connected", user_id=self.user.pk)

    async def disconnect(self, code: int) -> None:
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
        except Exception:
            logger.exception("websocket.handler_failed", event=frame.event if frame else None)
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

    async def send_event(self, event: str, data: dict[str, Any], **extra: Any) -> None:
        extra = {key: value for key, value in extra.items() if value is not None}
        await self.send(text_data=protocol.encode_frame(event, data, **extra))

    async def send_error(self, error: ApiError, ref: str | None = None) -> None:
        WEBSOCKET_FRAMES.labels(str(error.code)).inc()
        await self.send(text_data=protocol.error_frame(error, ref))

    async def realtime_event(self, message: dict[str, Any]) -> None:
        """Forward an event that a service published to one of this socket's groups."""
        await self.send_event(message["event"], message["data"], seq=message.get("seq"))
