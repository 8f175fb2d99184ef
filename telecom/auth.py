"""``Authorization: ApiKey <key>`` for /v1/…: the request acts for the key's project."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from . import keys
from .models import ApiKey


class ApiKeyUser:
    """Who a request with an API key is: the key (and its project), not a person."""

    is_authenticated = True
    is_active = True
    is_staff = False
    pk = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return f"api key {self.api_key.prefix}"


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"apikey"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            return None
        if len(header) != 2:
            raise AuthenticationFailed("Authorization: ApiKey <key>, with the key and nothing else.")
        key = header[1].decode(errors="replace")
        prefix = keys.prefix_of(key)
        api_key = (
            ApiKey.objects.select_related("project").filter(prefix=prefix, revoked_at__isnull=True).first()
            if prefix
            else None
        )
        if api_key is None or not keys.matches(key, api_key.key_hash):
            raise AuthenticationFailed("This API key is not valid (or was revoked).")
        now = timezone.now()
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
            # At most a write a minute per key: "last used" needs no more precision than that.
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return "ApiKey"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: ApiKey <key>`` in the OpenAPI schema."""

    target_class = "telecom.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`ApiKey <key>`: a project's API key (POST /v1/projects/{id}/keys shows it once).",
        }
