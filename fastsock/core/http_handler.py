"""Django's HTTP handler under Daphne, with the middleware run as WSGI runs it: on one thread."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class ThreadedASGIHandler(ASGIHandler):
    """Django's ASGI handler, but the middleware chain and the view run synchronously on the
    request's own thread: one switch from the event loop and back per request.

    Stock Django runs the middleware in async mode under ASGI. Each of its built-in ones
    (sessions, CSRF, authentication, messages…) then hops to a thread and back for its
    ``process_request`` and ``process_response``, WhiteNoise (sync only) hops back to the event
    loop, and the sync view to a thread again: a dozen switches per request. FastSock has no
    async view or middleware, so nothing is lost. Measured with delivery reports against one
    Daphne process (bench/README.md): 11-15 ms of CPU a report became 7-9 ms, and the process
    took 97-117 reports a second instead of 60-75.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        response: Any = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        return response
