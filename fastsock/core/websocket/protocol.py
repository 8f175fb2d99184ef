"""The frame protocol of ``/ws/``: every frame is ``{"event": name, "data": {...}}``.

Apps register a handler per client event (chat: ``message.*``, ``typing.*``; calls: ``call.*``)
from their ``AppConfig.ready``; the consumer only parses, checks and routes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastsock.core.errors import ApiError, ErrorCode

if TYPE_CHECKING:
    from .consumer import SocketConsumer

# Server → client events defined by the core itself.
EVENT_ERROR = "error"
EVENT_PONG = "pong"
EVENT_RESYNC = "resync"
# Client → server events defined by the core itself.
EVENT_PING = "ping"

# Close codes (RFC 6455).
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_POLICY_VIOLATION = 1008
# The same meaning where a server lets applications send only private-use codes.
CLOSE_MESSAGE_TOO_BIG_APPLICATION = 4009
# Policy violation (too many invalid frames). RFC 6455 has 1008, but Daphne lets applications
# send only 1000 and 3000-4999, so FastSock uses 4008 for it.
CLOSE_POLICY_VIOLATION_APPLICATION = 4008

MAX_EVENT_NAME_LENGTH = 64
MAX_REF_LENGTH = 64


@dataclass(frozen=True)
class Frame:
    event: str
    data: dict[str, Any] = field(default_factory=dict)
    ref: str | None = None


EventHandler = Callable[["SocketConsumer", Frame], Awaitable[None]]

_handlers: dict[str, EventHandler] = {}


def register_handler(event: str, handler: EventHandler) -> None:
    """Route client frames named ``event`` to ``handler``; each event has exactly one owner."""
    existing = _handlers.get(event)
    if existing is not None and existing is not handler:
        raise RuntimeError(f"WebSocket event {event!r} already has a handler: {existing!r}")
    _handlers[event] = handler


def handler_for(event: str) -> EventHandler | None:
    return _handlers.get(event)


def parse_frame(text: str) -> Frame:
    """Parse and shape-check one client frame; raise ``ApiError`` saying what is wrong."""
    try:
        payload = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(ErrorCode.MALFORMED_REQUEST, "Frame is not valid JSON.") from None
    except RecursionError:  # "[[[[…" deep enough to exhaust the parser's stack
        raise ApiError(ErrorCode.MALFORMED_REQUEST, "Frame is nested too deeply.") from None
    if not isinstance(payload, dict):
        raise ApiError(ErrorCode.INVALID, "Frame must be a JSON object.")
    ref = payload.get("ref")
    if ref is not None and (not isinstance(ref, str) or len(ref) > MAX_REF_LENGTH):
        raise ApiError(
            ErrorCode.INVALID, "ref must be a string of at most 64 characters.", details={"ref": ["invalid"]}
        )
    event = payload.get("event")
    if not isinstance(event, str) or not event or len(event) > MAX_EVENT_NAME_LENGTH:
        raise ApiError(ErrorCode.INVALID, "Frame needs an event name.", details={"event": ["required"]})
    data = payload.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ApiError(ErrorCode.INVALID, "data must be a JSON object.", details={"data": ["must be an object"]})
    return Frame(event=event, data=data, ref=ref)


def encode_frame(event: str, data: dict[str, Any] | None = None, **extra: Any) -> str:
    return json.dumps({"event": event, "data": data or {}, **extra}, separators=(",", ":"), default=str)


def encode_encoded_frame(event: str, data_json: str, *, seq: int) -> str:
    """The frame ``encode_frame(event, data, seq=seq)`` makes, from data already encoded once
    for every recipient of the event (fastsock.core.streams)."""
    return f'{{"event":{json.dumps(event)},"data":{data_json},"seq":{int(seq)}}}'


def error_frame(error: ApiError, ref: str | None = None) -> str:
    data: dict[str, Any] = {"code": str(error.code), "message": error.message}
    if error.details:
        data["details"] = error.details
    if ref is not None:
        data["ref"] = ref
    return encode_frame(EVENT_ERROR, data)
