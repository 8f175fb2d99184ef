"""The single DRF exception handler (every API failure becomes ``{"error": {code, message, details}}``)
and the JSON parser every API view reads bodies with."""

from __future__ import annotations

from typing import Any

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf
from rest_framework import parsers
from rest_framework.response import Response
from rest_framework.views import set_rollback
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from .errors import ApiError, ErrorCode, error_payload

logger = structlog.get_logger(__name__)

_DRF_CODES: list[tuple[type[Exception], ErrorCode]] = [
    (drf.ValidationError, ErrorCode.INVALID),
    (drf.ParseError, ErrorCode.MALFORMED_REQUEST),
    (InvalidToken, ErrorCode.INVALID_TOKEN),
    (drf.NotAuthenticated, ErrorCode.NOT_AUTHENTICATED),
    (drf.AuthenticationFailed, ErrorCode.NOT_AUTHENTICATED),
    (drf.PermissionDenied, ErrorCode.FORBIDDEN),
    (drf.NotFound, ErrorCode.NOT_FOUND),
    (drf.MethodNotAllowed, ErrorCode.METHOD_NOT_ALLOWED),
    (drf.NotAcceptable, ErrorCode.NOT_ACCEPTABLE),
    (drf.UnsupportedMediaType, ErrorCode.UNSUPPORTED_MEDIA_TYPE),
    (drf.Throttled, ErrorCode.RATE_LIMITED),
]


def _flatten_messages(detail: Any) -> Any:
    """Turn DRF's ErrorDetail trees into plain lists of strings per field."""
    if isinstance(detail, dict):
        return {str(key): _flatten_messages(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten_messages(item) for item in detail]
    return str(detail)


def _validation_message(details: dict[str, Any]) -> str:
    fields = [field for field in details if field != "non_field_errors"]
    if fields:
        return "Invalid input: " + ", ".join(sorted(fields)) + "."
    non_field = details.get("non_field_errors")
    if isinstance(non_field, list) and non_field:
        return str(non_field[0])
    return "Invalid input."


def api_error_response(error: ApiError) -> Response:
    response = Response(error.as_payload(), status=error.status)
    if error.retry_after is not None:
        response["Retry-After"] = str(max(1, error.retry_after))
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render known failures uniformly; unknown ones propagate to Django's 500 handler."""
    if isinstance(exc, Ratelimited):
        exc = ApiError(ErrorCode.RATE_LIMITED, "Too many requests; try again later.", retry_after=60)
    elif isinstance(exc, Http404):
        exc = ApiError(ErrorCode.NOT_FOUND, "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = ApiError(ErrorCode.FORBIDDEN, "You do not have permission to do this.")
    elif isinstance(exc, TokenError):
        exc = ApiError(ErrorCode.INVALID_TOKEN, str(exc))

    if isinstance(exc, ApiError):
        set_rollback()
        return api_error_response(exc)

    if not isinstance(exc, drf.APIException):
        return None

    set_rollback()
    code = next((code for kind, code in _DRF_CODES if isinstance(exc, kind)), None)
    if isinstance(exc, drf.ValidationError):
        raw = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        details = _flatten_messages(raw)
        payload = error_payload(ErrorCode.INVALID, _validation_message(details), details)
    else:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
        if isinstance(exc.detail, dict):
            message = str(exc.detail.get("detail", exc.default_detail))
        payload = error_payload(code or str(exc.default_code), str(message))
    response = Response(payload, status=exc.status_code)
    if isinstance(exc, drf.Throttled) and exc.wait is not None:
        response["Retry-After"] = str(int(exc.wait) + 1)
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        response["WWW-Authenticate"] = auth_header
    return response


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a body nested deeper than Python's parser can go (``[[[[…``)
    refused as malformed like any other bad JSON, rather than failing with a server error."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise drf.ParseError("JSON parse error - nested too deeply") from None
