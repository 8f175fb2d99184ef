"""The telecom API under /v1/: projects and keys (people's JWTs), messages (JWT or ApiKey)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.payloads import iso
from fastsock.core.errors import ApiError, ErrorCode
from fastsock.core.ratelimit import rate_limit
from telecom import keys, selectors, services
from telecom.auth import ApiKeyAuthentication
from telecom.idempotency import idempotent
from telecom.models import ApiKey, Project, SmsMessage

BAD_RANGE = {"from": ["invalid range"]}
PEOPLE_ONLY = "Use your own log-in (a JWT) for this, not an API key."


def _person(request: Request) -> Any:
    if isinstance(request.auth, ApiKey):
        raise ApiError(ErrorCode.FORBIDDEN, PEOPLE_ONLY)
    return request.user


def project_payload(project: Project, *, owner: bool = False) -> dict[str, Any]:
    payload: dict[str, Any] = {"id": project.pk, "name": project.name, "created_at": iso(project.created_at)}
    if owner:
        payload["signing_secret"] = keys.signing_secret(project.pk, project.signing_generation)
    return payload


def message_payload(message: SmsMessage) -> dict[str, Any]:
    return {
        "sid": message.sid,
        "project_id": message.project_id,
        "direction": message.direction,
        "from": message.from_number,
        "to": message.to_number,
        "body": message.body,
        "media_urls": message.media_urls,
        "num_media": len(message.media_urls),
        "encoding": message.encoding,
        "segments": message.segments,
        "status": message.status,
        "error_code": message.error_code or None,
        "error_message": message.error_message or None,
        "provider_message_id": message.provider_message_id or None,
        "connector": message.connector.name if message.connector_id else None,
        "status_callback": message.status_callback or None,
        "date_created": iso(message.created_at),
        "date_updated": iso(message.updated_at),
        "date_sent": iso(message.sent_at),
        "date_delivered": iso(message.delivered_at),
    }


def list_filters(request: Request) -> dict[str, Any]:
    """``?status=&to=&before=<sid>&limit=`` of a message or call list (limit 1 to 100, 50)."""
    try:
        limit = max(1, min(100, int(request.query_params.get("limit", 50))))
    except ValueError:
        limit = 50
    params = request.query_params
    return {"status": params.get("status"), "to": params.get("to"), "before": params.get("before"), "limit": limit}


def page_payload(results: list[dict[str, Any]], page: list[Any], has_more: bool) -> dict[str, Any]:
    return {"results": results, "has_more": has_more, "next": page[-1].sid if has_more else None}


class V1View(APIView):
    """/v1 views take API keys as well as people's JWTs and sessions."""

    def get_authenticators(self) -> list[Any]:
        return [ApiKeyAuthentication(), *super().get_authenticators()]


class ProjectsApi(V1View):
    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        """Create a project; the caller owns it."""
        user = _person(request)
        rate_limit(request, action="telecom.projects.user", key=lambda _g, _r: str(user.pk))
        project = services.project_create(owner=user, name=request.data.get("name"))
        return Response(project_payload(project, owner=True), status=status.HTTP_201_CREATED)

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="v1_projects_list")
    def get(self, request: Request) -> Response:
        """The caller's projects."""
        user = _person(request)
        return Response({"results": [project_payload(project) for project in selectors.projects_of(user=user)]})


class ProjectApi(V1View):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, project_id: int) -> Response:
        """A project; its owners also see the secret that signs its status callbacks."""
        membership = selectors.membership_of(user=_person(request), project_id=project_id)
        return Response(project_payload(membership.project, owner=membership.role == "owner"))


class KeyInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.CharField(), required=False)


class ProjectKeysApi(V1View):
    @extend_schema(request=KeyInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, project_id: int) -> Response:
        """A new API key (owners only): the only time the key itself is shown."""
        user = _person(request)
        project = selectors.owned_project(user=user, project_id=project_id)
        rate_limit(request, action="telecom.projects.user", key=lambda _g, _r: str(user.pk))
        api_key, key = services.api_key_create(
            project=project, actor=user, name=request.data.get("name"), scopes=request.data.get("scopes")
        )
        body = {"id": api_key.pk, "name": api_key.name, "prefix": api_key.prefix, "scopes": api_key.scopes, "key": key}
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="v1_project_keys_list")
    def get(self, request: Request, project_id: int) -> Response:
        """The project's keys (owners only), without the keys themselves."""
        project = selectors.owned_project(user=_person(request), project_id=project_id)
        rows = project.api_keys.order_by("id")
        return Response(
            {
                "results": [
                    {
                        "id": key.pk,
                        "name": key.name,
                        "prefix": key.prefix,
                        "scopes": key.scopes,
                        "created_at": iso(key.created_at),
                        "last_used_at": iso(key.last_used_at),
                        "revoked_at": iso(key.revoked_at),
                    }
                    for key in rows
                ]
            }
        )


class ProjectKeyApi(V1View):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int, key_id: int) -> Response:
        """Revoke a key at once (owners only)."""
        project = selectors.owned_project(user=_person(request), project_id=project_id)
        services.api_key_revoke(project=project, key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _limit_sends(request: Request, project: Project, api_key: ApiKey | None) -> None:
    rate_limit(request, action="telecom.messages.project", key=lambda _g, _r: str(project.pk))
    if api_key is not None:
        rate_limit(request, action="telecom.messages.key", key=lambda _g, _r: str(api_key.pk))


class MessagesApi(V1View):
    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        """Accept an SMS (or MMS with ``media_urls``) to send: 201 ``queued`` at once."""
        project, api_key = selectors.acting_project(request, scope=ApiKey.Scope.MESSAGES)
        if not isinstance(request.data, dict):
            raise ApiError(ErrorCode.INVALID, "The body must be a JSON object.")
        _limit_sends(request, project, api_key)

        def accept() -> Response:
            message = services.sms_accept(
                project=project,
                api_key=api_key,
                to=request.data.get("to"),
                from_=request.data.get("from"),
                body=request.data.get("body"),
                media_urls=request.data.get("media_urls"),
                status_callback=request.data.get("status_callback"),
            )
            return Response(message_payload(message), status=status.HTTP_201_CREATED)

        return idempotent(request, project, accept)

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="v1_messages_list")
    def get(self, request: Request) -> Response:
        """The project's messages, newest first: ``?status=&to=&before=<sid>&limit=``."""
        project, _ = selectors.acting_project(request, scope=ApiKey.Scope.MESSAGES)
        page, has_more = selectors.message_list(project=project, **list_filters(request))
        return Response(page_payload([message_payload(m) for m in page], page, has_more))


class MessageApi(V1View):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, sid: str) -> Response:
        project, _ = selectors.acting_project(request, scope=ApiKey.Scope.MESSAGES)
        return Response(message_payload(selectors.message_for(project=project, sid=sid)))


class UsageApi(V1View):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        """Per day: SMS segments and MMS out and in, call minutes: ``?from=YYYY-MM-DD&to=YYYY-MM-DD``."""
        from datetime import date, timedelta

        from django.utils import timezone

        project, _ = selectors.acting_project(request, scope=ApiKey.Scope.USAGE)
        today = timezone.now().date()
        try:
            first = date.fromisoformat(request.query_params.get("from") or str(today - timedelta(days=30)))
            last = date.fromisoformat(request.query_params.get("to") or str(today))
        except ValueError:
            raise ApiError(
                ErrorCode.INVALID, "from and to are dates like 2026-12-01.", details={"from": ["invalid"]}
            ) from None
        if first > last or (last - first).days > 366:
            raise ApiError(
                ErrorCode.INVALID, "A range of at most a year, from before to.", details={"from": ["invalid"]}
            )
        if first <= today <= last:
            services.usage_aggregate(day=today)  # today's numbers as of now
        rows = project.usage.filter(day__range=(first, last)).order_by("day")
        return Response(
            {
                "results": [
                    {
                        "day": row.day.isoformat(),
                        "sms_segments_out": row.sms_segments_out,
                        "sms_segments_in": row.sms_segments_in,
                        "mms_out": row.mms_out,
                        "mms_in": row.mms_in,
                        "call_minutes": -(-row.call_seconds // 60),
                    }
                    for row in rows
                ]
            }
        )
