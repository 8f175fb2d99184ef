"""Serve FastSock under Daphne with the limits the settings name (``python manage.py serve``)."""

from __future__ import annotations

from typing import Any

import daphne.server
import structlog
from asgiref.compatibility import guarantee_single_callable
from daphne.endpoints import build_endpoint_description_strings
from daphne.ws_protocol import WebSocketFactory
from django.conf import settings
from django.core.management.base import BaseCommand

logger = structlog.get_logger(__name__)


class ClosingWebSocketFactory(WebSocketFactory):
    """Daphne's factory, but failures close with a real close frame instead of dropping TCP.

    Autobahn drops the connection on a protocol failure by default, so a client whose message
    is too big would see 1006 (abnormal) rather than the 1009 that CONTRACT.md promises.
    """

    def setProtocolOptions(self, **options: Any) -> None:  # noqa: N802 - Autobahn's name
        super().setProtocolOptions(failByDrop=False, **options)


def build_server(*, host: str, port: int, proxy_headers: bool) -> daphne.server.Server:
    """A Daphne server whose socket layer enforces ``WS_MAX_FRAME_BYTES`` (closing with 1009).

    Daphne's own access log is left off: it prints query strings, and ``?token=`` is a secret.
    The access-log middleware and the WebSocket consumer log every request, redacted.
    """
    from fastsock.asgi import application

    daphne.server.WebSocketFactory = ClosingWebSocketFactory
    return daphne.server.Server(
        application=guarantee_single_callable(application),
        endpoints=build_endpoint_description_strings(host=host, port=port),
        action_logger=None,
        websocket_max_message_size=settings.WS_MAX_FRAME_BYTES,
        websocket_max_frame_size=settings.WS_MAX_FRAME_BYTES,
        websocket_connect_timeout=10,
        websocket_handshake_timeout=10,
        application_close_timeout=10,
        proxy_forwarded_address_header="X-Forwarded-For" if proxy_headers else None,
        proxy_forwarded_port_header="X-Forwarded-Port" if proxy_headers else None,
        proxy_forwarded_proto_header="X-Forwarded-Proto" if proxy_headers else None,
        server_name="",
    )


class Command(BaseCommand):
    help = "Run FastSock's ASGI application (HTTP and /ws/) under Daphne."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--proxy-headers",
            action="store_true",
            help="Trust X-Forwarded-For/-Port/-Proto from the reverse proxy in front of this process.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        server = build_server(host=options["host"], port=options["port"], proxy_headers=options["proxy_headers"])
        logger.info("server.starting", host=options["host"], port=options["port"])
        server.run()
