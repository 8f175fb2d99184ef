"""Who is online: a user is online while any of their sockets, on any server process, is open.

Each socket registers itself with an expiry that its heartbeat keeps pushing forward, so a
process that dies without saying goodbye leaves entries that simply run out. With Redis the
registry is shared by all processes (a sorted set per user scored by expiry); embedded, it
lives in this process.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis
from django.conf import settings

from .realtime import publish_ephemeral

PRESENCE = "presence"
_KEY = "fastsock:presence:{user_id}"
_local: dict[int, dict[str, float]] = {}
_local_lock = threading.Lock()
_audiences: list[Callable[[int], Iterable[int]]] = []
_client: redis.Redis | None = None


def register_audience(audience: Callable[[int], Iterable[int]]) -> None:
    """Apps say who may see a user's presence (chat: the people who share a room with them)."""
    if audience not in _audiences:
        _audiences.append(audience)


def _redis() -> redis.Redis | None:
    global _client
    if not settings.REDIS_URL:
        return None
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL)
    return _client


def _live_count(user_id: int, now: float) -> int:
    client = _redis()
    if client is None:
        with _local_lock:
            sockets = _local.get(user_id, {})
            for channel in [c for c, expiry in sockets.items() if expiry <= now]:
                del sockets[channel]
            return len(sockets)
    key = _KEY.format(user_id=user_id)
    client.zremrangebyscore(key, "-inf", now)
    return client.zcard(key)


def _set(user_id: int, channel: str, expiry: float | None) -> None:
    client = _redis()
    if client is None:
        with _local_lock:
            sockets = _local.setdefault(user_id, {})
            if expiry is None:
                sockets.pop(channel, None)
            else:
                sockets[channel] = expiry
        return
    key = _KEY.format(user_id=user_id)
    if expiry is None:
        client.zrem(key, channel)
    else:
        client.zadd(key, {channel: expiry})
        client.expire(key, math.ceil(settings.PRESENCE_TTL_SECONDS * 2))


def socket_opened(*, user_id: int, channel: str) -> bool:
    """Register a socket; return whether the user just came online."""
    now = time.time()
    was_online = _live_count(user_id, now) > 0
    _set(user_id, channel, now + settings.PRESENCE_TTL_SECONDS)
    return not was_online


def socket_alive(*, user_id: int, channel: str) -> None:
    _set(user_id, channel, time.time() + settings.PRESENCE_TTL_SECONDS)


def socket_closed(*, user_id: int, channel: str) -> bool:
    """Forget a socket; return whether the user just went offline."""
    _set(user_id, channel, None)
    return _live_count(user_id, time.time()) == 0


def is_online(*, user_id: int) -> bool:
    return _live_count(user_id, time.time()) > 0


def announce(*, user_id: int, online: bool, last_seen: Any) -> None:
    """Tell the user's audience (never anyone else) that they came online or went offline."""
    data = {"user_id": user_id, "online": online, "last_seen": last_seen}
    audience: set[int] = set()
    for function in _audiences:
        audience.update(function(user_id))
    audience.discard(user_id)
    publish_ephemeral(audience, PRESENCE, data)
