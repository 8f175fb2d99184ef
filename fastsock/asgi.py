"""ASGI entry point: HTTP to Django, ``/ws/`` to the authenticated WebSocket consumer."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastsock.settings.base")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from fastsock.core.websocket.auth import WebSocketAuthStack  # noqa: E402
from fastsock.core.websocket.consumer import SocketConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebSocketAuthStack(URLRouter([path("ws/", SocketConsumer.as_asgi())])),
    }
)
