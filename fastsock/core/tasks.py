"""Tasks of the core: a liveness round trip through the broker and a worker."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="core.ping")
def ping() -> str:
    """Answer "pong" from a worker; used by operators and tests to prove the queue works end to end."""
    return "pong"


@shared_task(name="core.stream_purge")
def stream_purge() -> int:
    """Drop durable events past their retention; scheduled hourly by ``celery -A fastsock beat``."""
    from .streams import stream_purge as purge

    return purge()
