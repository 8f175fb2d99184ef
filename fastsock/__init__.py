"""FastSock: real-time chat, calls and telecom APIs on Django."""

from .celery import app as celery_app

__all__ = ["celery_app"]
