"""Rate limits for anything a user can repeat, counted in the shared cache (Redis in production)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from .errors import ApiError, ErrorCode

KeyFunction = Callable[[str, HttpRequest], str]


def client_ip(_group: str, request: HttpRequest) -> str:
    header = getattr(settings, "RATELIMIT_IP_META_KEY", None) or "REMOTE_ADDR"
    value = request.META.get(header, "") or ""
    # X-Forwarded-For lists the client first; the proxies that appended themselves follow.
    return value.split(",")[0].strip() or "unknown"


def rate_limit(request: HttpRequest, *, action: str, key: str | KeyFunction) -> None:
    """Count one attempt at ``action``; raise a 429 ``ApiError`` once its rate is used up.

    The rate comes from ``settings.RATE_LIMITS[action]`` at call time.
    """
    rate = settings.RATE_LIMITS.get(action)
    if not rate:
        return
    usage = get_usage(request, group=action, key=key, rate=rate, increment=True)
    if usage and usage["should_limit"]:
        raise ApiError(
            ErrorCode.RATE_LIMITED,
            "Too many attempts; try again later.",
            retry_after=max(1, int(usage["time_left"])),
        )


def rate_limit_user(*, user_id: int, action: str) -> None:
    """The same per-person limit for callers without an HTTP request (WebSocket handlers)."""
    rate_limit(HttpRequest(), action=action, key=lambda _group, _request: str(user_id))
