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
_local: dict[int, dict[str, float]] = {}
_local_lock = threading.Lock()
_audiences: list[Callable[[int], Iterable[int]]] = []
_client: redis.Redis | None = None


def _key(user_id: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:presence:{user_id}"


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


def _local_change(
    user_id: int, channel: str, expiry: float | None, now: float, only_existing: bool = False
) -> tuple[int, int]:
    with _local_lock:
        sockets = _local.setdefault(user_id, {})
        for stale in [c for c, until in sockets.items() if until <= now]:
            del sockets[stale]
        before = len(sockets)
        if expiry is None:
            sockets.pop(channel, None)
        elif channel in sockets or not only_existing:
            sockets[channel] = expiry
        return before, len(sockets)


def _change(user_id: int, channel: str, expiry: float | None, *, only_existing: bool = False) -> tuple[int, int]:
    """Set (or, with ``expiry`` None, drop) one socket's entry; return the live socket counts
    before and after, read atomically with the change.

    Atomic, so that a tab opening while another closes, on any two processes, cannot both
    miss each other and leave the user announced offline while a socket is open.
    """
    now = time.time()
    client = _redis()
    if client is None:
        return _local_change(user_id, channel, expiry, now, only_existing)
    key = _key(user_id)
    pipe = client.pipeline(transaction=True)
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zcard(key)
    if expiry is None:
        pipe.zrem(key, channel)
    else:
        pipe.zadd(key, {channel: expiry}, xx=only_existing)
        pipe.expire(key, math.ceil(settings.PRESENCE_TTL_SECONDS * 2))
    pipe.zcard(key)
    results = pipe.execute()
    return results[1], results[-1]


def socket_opened(*, user_id: int, channel: str) -> bool:
    """Register a socket; return whether the user just came online."""
    before, _after = _change(user_id, channel, time.time() + settings.PRESENCE_TTL_SECONDS)
    return before == 0


def socket_alive(*, user_id: int, channel: str) -> None:
    """Push the socket's expiry forward; a heartbeat that lands after the close adds nothing back."""
    _change(user_id, channel, time.time() + settings.PRESENCE_TTL_SECONDS, only_existing=True)


def socket_closed(*, user_id: int, channel: str) -> bool:
    """Forget a socket; return whether the user just went offline."""
    _before, after = _change(user_id, channel, None)
    return after == 0


def is_online(*, user_id: int) -> bool:
    return user_id in online_user_ids(user_ids=[user_id])


def live_sockets(*, user_id: int) -> list[str]:
    """The channel names of the user's open sockets, on every process (their devices)."""
    now = time.time()
    client = _redis()
    if client is None:
        with _local_lock:
            return sorted(channel for channel, until in _local.get(user_id, {}).items() if until > now)
    return sorted(member.decode() for member in client.zrangebyscore(_key(user_id), now, "+inf"))


def online_user_ids(*, user_ids: Iterable[int]) -> set[int]:
    """Which of these users have a live socket anywhere (one Redis round trip for all)."""
    ids = list(dict.fromkeys(user_ids))
    now = time.time()
    client = _redis()
    if client is None:
        with _local_lock:
            return {i for i in ids if any(until > now for until in _local.get(i, {}).values())}
    pipe = client.pipeline(transaction=False)
    for user_id in ids:
        pipe.zcount(_key(user_id), now, "+inf")
    return {user_id for user_id, count in zip(ids, pipe.execute(), strict=True) if count > 0}


def announce(*, user_id: int, online: bool, last_seen: Any) -> None:
    """Tell the user's audience (never anyone else) that they came online or went offline."""
    data = {"user_id": user_id, "online": online, "last_seen": last_seen}
    audience: set[int] = set()
    for function in _audiences:
        audience.update(function(user_id))
    audience.discard(user_id)
    publish_ephemeral(audience, PRESENCE, data)
