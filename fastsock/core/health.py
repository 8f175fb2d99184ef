"""Readiness checks: each configured dependency answers, or is named as the failing part."""

from __future__ import annotations

from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connections
from kombu import Connection

CHECK_TIMEOUT_SECONDS = 2.0

OK = "ok"
NOT_CONFIGURED = "not_configured"


def check_database() -> str:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return OK


def check_redis() -> str:
    if not settings.REDIS_URL:
        return NOT_CONFIGURED
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
        socket_timeout=CHECK_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()
    return OK


def check_broker() -> str:
    if settings.CELERY_BROKER_URL.startswith("memory://"):
        return NOT_CONFIGURED
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=CHECK_TIMEOUT_SECONDS) as connection:
        connection.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)
    return OK


READINESS_CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
}


def readiness() -> tuple[bool, dict[str, str]]:
    """Run every check; a failure is reported by name with its exception type, never its text."""
    results: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            # Only the type: connection errors may carry URLs with credentials.
            results[name] = f"error: {type(exc).__name__}"
    ready = all(not result.startswith("error") for result in results.values())
    return ready, results
