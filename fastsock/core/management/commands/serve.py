"""Serve FastSock under Daphne with the limits the settings name (``python manage.py serve``)."""

from __future__ import annotations

import gc
import json
from typing import Any

import daphne.http_protocol
import daphne.server
import structlog
from asgiref.compatibility import guarantee_single_callable
from daphne.endpoints import build_endpoint_description_strings
from daphne.http_protocol import WebRequest
from daphne.ws_protocol import WebSocketFactory
from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import get_resolver

from fastsock.core.errors import ErrorCode, error_payload

logger = structlog.get_logger(__name__)


class ClosingWebSocketFactory(WebSocketFactory):
    """Daphne's factory, but failures close with a real close frame instead of dropping TCP.

    Autobahn drops the connection on a protocol failure by default, so a client whose message
    is too big would see 1006 (abnormal) rather than the 1009 that CONTRACT.md promises.
    """

    def setProtocolOptions(self, **options: Any) -> None:  # noqa: N802 - Autobahn's name
        super().setProtocolOptions(failByDrop=False, **options)


# Room for the multipart envelope around the largest allowed upload.
MULTIPART_OVERHEAD_BYTES = 1024 * 1024


def max_body_bytes() -> int:
    return settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD_BYTES


class BodyLimitedWebRequest(WebRequest):
    """Daphne's request, refusing bodies over the limit while they arrive.

    Daphne reads a whole request body (to a temporary file) before the application sees any of
    it, so a limit checked in Django would come only after the bytes were stored. This answers
    413 as soon as the announced length, or the bytes received so far, pass the limit.
    """

    received = 0
    refused = False

    def gotLength(self, length: int | None) -> None:  # noqa: N802 - Twisted's name
        if length is not None and length > max_body_bytes():
            self.refuse_too_large()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        if self.refused:
            return
        self.received += len(data)
        if self.received > max_body_bytes():
            self.refuse_too_large()
            return
        super().handleContentChunk(data)

    def refuse_too_large(self) -> None:
        self.refused = True
        body = json.dumps(
            error_payload(ErrorCode.TOO_LARGE, f"The request body is over {max_body_bytes()} bytes.")
        ).encode()
        head = (
            "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        self.channel.transport.write(head + body)
        self.channel.transport.loseConnection()


def build_server(*, host: str, port: int, proxy_headers: bool) -> daphne.server.Server:
    """A Daphne server whose socket layer enforces ``WS_MAX_FRAME_BYTES`` (closing with 1009).

    Bodies over the upload limit are refused while they arrive (``BodyLimitedWebRequest``).
    Daphne's own access log is left off: it prints query strings, and ``?token=`` is a secret.
    The access-log middleware and the WebSocket consumer log every request, redacted.
    """
    from fastsock.asgi import application

    daphne.server.WebSocketFactory = ClosingWebSocketFactory
    daphne.http_protocol.WebRequest = BodyLimitedWebRequest
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


def freeze_start_up_objects() -> None:
    """Move everything loaded at start-up out of the garbage collector's reach.

    A full collection over Django's ~150,000 start-up objects takes 80-130 ms on this kind of
    machine and lands on whichever request triggers it (measured by bench/chat_scale.py).
    """
    get_resolver().url_patterns  # noqa: B018 - import every view module before freezing
    gc.collect()
    gc.freeze()


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
        freeze_start_up_objects()
        logger.info("server.starting", host=options["host"], port=options["port"])
        server.run()
