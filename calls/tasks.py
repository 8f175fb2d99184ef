"""Celery tasks of the calls app: thin, they call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="calls.sweep")
def sweep() -> int:
    """End calls no process looks after any more (scheduled by ``celery -A fastsock beat``)."""
    from .services import calls_sweep

    return calls_sweep()
