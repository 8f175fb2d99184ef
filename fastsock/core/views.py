"""Health endpoints and the JSON error pages for API paths."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .errors import ErrorCode, error_payload
from .health import readiness

API_PREFIXES = ("/api/", "/v1/", "/webhooks/")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests; says nothing about dependencies."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    ready, checks = readiness()
    failing = [name for name, result in checks.items() if result.startswith("error")]
    body: dict[str, Any] = {"status": "ok" if ready else "unavailable", "checks": checks}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=200 if ready else 503)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; behind ``Authorization: Bearer $METRICS_TOKEN`` when that is set."""
    token = settings.METRICS_TOKEN
    if token:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not constant_time_compare(supplied, token):
            return JsonResponse(
                error_payload(ErrorCode.NOT_AUTHENTICATED, "Metrics need the metrics token."), status=401
            )
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def _error_response(request: HttpRequest, code: ErrorCode, message: str, status: int) -> HttpResponse:
    if is_api_path(request.path):
        return JsonResponse(error_payload(code, message), status=status)
    return render(
        request,
        "error.html",
        {"status": status, "message": message},
        status=status,
    )


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Unknown API paths answer in the API's error shape, with DEBUG on or off."""
    return JsonResponse(error_payload(ErrorCode.NOT_FOUND, "No such API endpoint."), status=404)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_response(request, ErrorCode.NOT_FOUND, "This page does not exist.", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return _error_response(request, ErrorCode.SERVER_ERROR, "Something went wrong on our side.", 500)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_response(request, ErrorCode.FORBIDDEN, "You do not have permission to do this.", 403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_response(request, ErrorCode.MALFORMED_REQUEST, "The request could not be understood.", 400)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _error_response(
        request, ErrorCode.CSRF_FAILED, "Your session form expired; reload the page and try again.", 403
    )
