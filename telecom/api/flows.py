"""/v1/flows: call flows with versions (CONTRACT.md, Telecom).

An API key with the ``flows`` scope acts for its project; a person's JWT for the project named
by ``FastSock-Project`` (or their only one), where members may read and owners may write.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from chat.payloads import iso
from fastsock.core.errors import ApiError, ErrorCode
from fastsock.core.ratelimit import rate_limit
from telecom import flow_selectors, flow_services, selectors
from telecom.idempotency import idempotent
from telecom.models import ApiKey, CallFlow, CallFlowVersion, Project, ProjectMember

from .views import V1View

VERSIONS_IN_DETAIL = 20
DEFINITION_HELP = (
    'The flow: {"steps": [STEP, …]}, each STEP one verb: say, play, pause, hangup, record, gather or dial '
    "(docs/telecom.md). Invalid: 400 with details.definition = [{path, reason}, …]."
)


class FlowInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    definition = serializers.JSONField(help_text=DEFINITION_HELP)


class VersionInput(serializers.Serializer):
    definition = serializers.JSONField(help_text=DEFINITION_HELP)


class ActivateInput(serializers.Serializer):
    version = serializers.IntegerField(help_text="The version to activate; an older one rolls back.")


PAGE_PARAMETERS = [
    OpenApiParameter("before", str, description="Continue after this cursor (the previous page's next)."),
    OpenApiParameter("limit", int, description="1 to 100, default 50."),
]


def version_payload(version: CallFlowVersion, *, active_id: int | None) -> dict[str, Any]:
    return {
        "version": version.number,
        "active": version.pk == active_id,
        "definition": version.definition,
        "created_at": iso(version.created_at),
        "created_by": version.created_by.username if version.created_by_id else None,
    }


def flow_payload(flow: CallFlow) -> dict[str, Any]:
    latest = getattr(flow, "latest_version", None)
    if latest is None:
        latest = flow.versions.order_by("-number").values_list("number", flat=True).first()
    return {
        "id": flow.pk,
        "name": flow.name,
        "version": latest,
        "active_version": flow.active_version.number if flow.active_version_id else None,
        "created_at": iso(flow.created_at),
    }


def flow_detail_payload(flow: CallFlow) -> dict[str, Any]:
    versions, has_more = flow_selectors.call_flow_versions(flow=flow, limit=VERSIONS_IN_DETAIL)
    return {
        **flow_payload(flow),
        "definition": flow.active_version.definition if flow.active_version_id else None,
        "versions": [version_payload(version, active_id=flow.active_version_id) for version in versions],
        "versions_has_more": has_more,
    }


def _limit(request: Request) -> int:
    try:
        return max(1, min(100, int(request.query_params.get("limit", 50))))
    except ValueError:
        return 50


def _reader(request: Request) -> Project:
    project, _ = selectors.acting_project(request, scope=ApiKey.Scope.FLOWS)
    return project


def _writer(request: Request) -> tuple[Project, ApiKey | None]:
    """The project a write acts for: an API key's, or one the person owns. Counts the write
    against the project's and the key's rate limits."""
    project, api_key = selectors.acting_project(request, scope=ApiKey.Scope.FLOWS)
    if api_key is None:
        membership = selectors.membership_of(user=request.user, project_id=project.pk)
        if membership.role != ProjectMember.Role.OWNER:
            raise ApiError(ErrorCode.FORBIDDEN, "Only the project's owners (or its API keys) may change flows.")
    if not isinstance(request.data, dict):
        raise ApiError(ErrorCode.INVALID, "The body must be a JSON object.")
    rate_limit(request, action="telecom.flows.project", key=lambda _g, _r: str(project.pk))
    if api_key is not None:
        rate_limit(request, action="telecom.flows.key", key=lambda _g, _r: str(api_key.pk))
    return project, api_key


class FlowsApi(V1View):
    @extend_schema(request=FlowInput, responses={201: OpenApiTypes.OBJECT}, operation_id="v1_flows_create")
    def post(self, request: Request) -> Response:
        """Create a flow; its first version is active at once. Takes an ``Idempotency-Key``."""
        project, _ = _writer(request)

        def create() -> Response:
            flow = flow_services.call_flow_create(
                project=project, actor=request.user, name=request.data.get("name"),
                definition=request.data.get("definition"),
            )  # fmt: skip
            flow = flow_selectors.call_flow_get(project=project, flow_id=flow.pk)
            return Response(flow_detail_payload(flow), status=status.HTTP_201_CREATED)

        return idempotent(request, project, create)

    @extend_schema(parameters=PAGE_PARAMETERS, responses=OpenApiTypes.OBJECT, operation_id="v1_flows_list")
    def get(self, request: Request) -> Response:
        """The project's flows, newest first: ``?before=<id>&limit=``."""
        page, has_more = flow_selectors.call_flow_list(
            project=_reader(request), before=request.query_params.get("before"), limit=_limit(request)
        )
        return Response(
            {
                "results": [flow_payload(flow) for flow in page],
                "has_more": has_more,
                "next": str(page[-1].pk) if has_more else None,
            }
        )


class FlowApi(V1View):
    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="v1_flows_retrieve")
    def get(self, request: Request, flow_id: str) -> Response:
        """The flow, its active definition and its latest versions (which one is active)."""
        flow = flow_selectors.call_flow_get(project=_reader(request), flow_id=flow_id)
        return Response(flow_detail_payload(flow))


class FlowVersionsApi(V1View):
    @extend_schema(request=VersionInput, responses={201: OpenApiTypes.OBJECT}, operation_id="v1_flow_versions_create")
    def post(self, request: Request, flow_id: str) -> Response:
        """A new version of the flow, not active until activated. Takes an ``Idempotency-Key``."""
        project, _ = _writer(request)
        flow = flow_selectors.call_flow_get(project=project, flow_id=flow_id)

        def add() -> Response:
            version = flow_services.call_flow_version_add(
                flow=flow, actor=request.user, definition=request.data.get("definition")
            )
            body = {"flow_id": flow.pk, **version_payload(version, active_id=flow.active_version_id)}
            return Response(body, status=status.HTTP_201_CREATED)

        return idempotent(request, project, add)

    @extend_schema(parameters=PAGE_PARAMETERS, responses=OpenApiTypes.OBJECT, operation_id="v1_flow_versions_list")
    def get(self, request: Request, flow_id: str) -> Response:
        """The flow's versions, newest first: ``?before=<version>&limit=``."""
        flow = flow_selectors.call_flow_get(project=_reader(request), flow_id=flow_id)
        page, has_more = flow_selectors.call_flow_versions(
            flow=flow, before=request.query_params.get("before"), limit=_limit(request)
        )
        return Response(
            {
                "results": [version_payload(version, active_id=flow.active_version_id) for version in page],
                "has_more": has_more,
                "next": str(page[-1].number) if has_more else None,
            }
        )


class FlowVersionApi(V1View):
    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="v1_flow_version_retrieve")
    def get(self, request: Request, flow_id: str, number: str) -> Response:
        flow = flow_selectors.call_flow_get(project=_reader(request), flow_id=flow_id)
        version = flow_selectors.call_flow_version_get(flow=flow, number=number)
        return Response({"flow_id": flow.pk, **version_payload(version, active_id=flow.active_version_id)})


class FlowActivateApi(V1View):
    @extend_schema(request=ActivateInput, responses=OpenApiTypes.OBJECT, operation_id="v1_flows_activate")
    def post(self, request: Request, flow_id: str) -> Response:
        """Make a version the one new calls run; activating an older version rolls back."""
        project, _ = _writer(request)
        flow = flow_selectors.call_flow_get(project=project, flow_id=flow_id)
        if "version" not in request.data:
            raise ApiError(ErrorCode.INVALID, "Invalid input: version.", details={"version": ["required"]})
        flow_services.call_flow_activate(flow=flow, version=request.data["version"])
        return Response(flow_detail_payload(flow_selectors.call_flow_get(project=project, flow_id=flow.pk)))
