"""Tasks of the core: a liveness round trip through the broker and a worker."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="core.ping")
def ping() -> str:
    """Answer "pong" from a worker; used by operators and tests to prove the queue works end to end."""
    return "pong"
