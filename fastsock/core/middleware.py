"""Request ids and one structured access line per request."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from .metrics import observe_http

access_logger = structlog.get_logger("fastsock.access")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

Handler = Callable[[HttpRequest], Any]


def incoming_request_id(meta: dict[str, Any]) -> str:
    """Reuse a proxy's request id when it looks like one; otherwise mint a new one."""
    candidate = meta.get("HTTP_X_REQUEST_ID", "")
    if isinstance(candidate, str) and _VALID_REQUEST_ID.match(candidate):
        return candidate
    return uuid.uuid4().hex


def _authenticated_user_id(request: HttpRequest) -> int | None:
    """The user id if authentication already ran; never trigger a query from here."""
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is None or wrapped is empty:
        return None
    return getattr(wrapped, "pk", None)


class HybridMiddleware:
    """Middleware that runs natively under both WSGI and ASGI (no thread hop under Daphne)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)


class request_id_middleware(HybridMiddleware):  # noqa: N801 - Django middleware are named like functions
    """Bind a request id to every log line of this request and echo it in the response."""

    def _begin(self, request: HttpRequest) -> str:
        request_id = incoming_request_id(request.META)
        request.request_id = request_id  # type: ignore[attr-defined]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        return request_id

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        request_id = self._begin(request)
        try:
            response = self.get_response(request)
        finally:
            # Worker threads and event loops outlive requests: leave no id behind for the next one.
            structlog.contextvars.clear_contextvars()
        response[REQUEST_ID_HEADER] = request_id
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        request_id = self._begin(request)
        try:
            response = await self.get_response(request)
        finally:
            structlog.contextvars.clear_contextvars()
        response[REQUEST_ID_HEADER] = request_id
        return response


class access_log_middleware(HybridMiddleware):  # noqa: N801
    """Log method, path, status, user and duration (redacted), and count the request in metrics."""

    def _log(self, request: HttpRequest, response: HttpResponse, started: float) -> None:
        seconds = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        observe_http(
            method=request.method or "",
            route=match.route if match is not None else None,
            status=response.status_code,
            seconds=seconds,
        )
        access_logger.info(
            "request",
            method=request.method,
            path=request.path,
            query=request.META.get("QUERY_STRING", ""),
            status=response.status_code,
            user_id=_authenticated_user_id(request),
            duration_ms=round(seconds * 1000, 1),
        )

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        self._log(request, response, started)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.get_response(request)
        self._log(request, response, started)
        return response
