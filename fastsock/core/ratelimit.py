"""Rate limits for anything a user can repeat, counted in the shared cache (Redis in production)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django_ratelimit.core import EXPIRATION_FUDGE, _get_window, _make_cache_key, _split_rate, get_usage

from .cache import count_attempts
from .errors import ApiError, ErrorCode

KeyFunction = Callable[[str, HttpRequest], str]


def client_ip(_group: str, request: HttpRequest) -> str:
    """The caller's address: ``REMOTE_ADDR``, or the header a trusted proxy sets.

    A list header (X-Forwarded-For) is read from the right: a client can put anything in front,
    but the last ``TRUSTED_PROXY_HOPS`` entries were appended by our own proxies, and the
    leftmost of those is the address the outermost proxy saw.
    """
    header = getattr(settings, "RATELIMIT_IP_META_KEY", None) or "REMOTE_ADDR"
    entries = [entry.strip() for entry in (request.META.get(header, "") or "").split(",")]
    entries = [entry for entry in entries if entry]
    if not entries:
        return "unknown"
    hops = max(1, int(getattr(settings, "TRUSTED_PROXY_HOPS", 1)))
    return entries[-hops] if len(entries) >= hops else entries[0]


def rate_limit(request: HttpRequest, *, action: str, key: str | KeyFunction) -> None:
    """Count one attempt at ``action``; raise a 429 ``ApiError`` once its rate is used up.

    The rate comes from ``settings.RATE_LIMITS[action]`` at call time.
    """
    rate = settings.RATE_LIMITS.get(action)
    if not rate:
        return
    usage = get_usage(request, group=action, key=key, rate=rate, increment=True)
    if usage and usage["should_limit"]:
        raise _limited(usage["time_left"])


def _limited(time_left: float) -> ApiError:
    return ApiError(ErrorCode.RATE_LIMITED, "Too many attempts; try again later.", retry_after=max(1, int(time_left)))


def rate_limit_user(*, user_id: int, action: str) -> None:
    """The same per-person limit for callers without an HTTP request (WebSocket handlers)."""
    rate_limit(HttpRequest(), action=action, key=lambda _group, _request: str(user_id))


def rate_limit_users(*, user_ids: list[int], action: str) -> list[ApiError | None]:
    """:func:`rate_limit_user` for a batch: one attempt per entry (a user may appear more than
    once), all counted in one round trip; per entry ``None`` or the 429 error to answer with.

    The counters are django-ratelimit's own (its cache keys and windows), so a user's sends
    over REST and over WebSocket count against one limit.
    """
    rate = settings.RATE_LIMITS.get(action)
    if not rate:
        return [None] * len(user_ids)
    limit, period = _split_rate(rate)
    windows = [_get_window(str(user_id), period) for user_id in user_ids]
    keys = [
        _make_cache_key(action, window, rate, str(user_id), get_usage.ALL)
        for user_id, window in zip(user_ids, windows, strict=True)
    ]
    counts = count_attempts(caches[settings.RATELIMIT_USE_CACHE], keys, period + EXPIRATION_FUDGE)
    now = int(time.time())
    return [None if count <= limit else _limited(window - now) for count, window in zip(counts, windows, strict=True)]
