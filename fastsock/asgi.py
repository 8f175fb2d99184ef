"""ASGI entry point: HTTP to Django, ``/ws/`` to the authenticated WebSocket consumer."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastsock.settings.base")

# Django must be set up before anything imports models.
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import path  # noqa: E402

from fastsock.core.concurrency import ConcurrentRequestLimit  # noqa: E402
from fastsock.core.http_handler import ThreadedASGIHandler  # noqa: E402
from fastsock.core.websocket.auth import WebSocketAuthStack  # noqa: E402
from fastsock.core.websocket.consumer import SocketConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ConcurrentRequestLimit(
            ThreadedASGIHandler(),
            limit=settings.HTTP_MAX_CONCURRENT_REQUESTS,
            exempt=("/healthz", "/readyz", "/metrics"),
        ),
        "websocket": WebSocketAuthStack(URLRouter([path("ws/", SocketConsumer.as_asgi())])),
    }
)
