"""Reads of call flows, always within the project a request acts for."""

from __future__ import annotations

from typing import Any

from django.db.models import Max, QuerySet

from fastsock.core.errors import ApiError, ErrorCode, invalid_field

from .models import CallFlow, CallFlowVersion, Project


def _flows(project: Project) -> QuerySet[CallFlow]:
    return (
        CallFlow.objects.filter(project=project)
        .select_related("active_version")
        .annotate(latest_version=Max("versions__number"))
    )


def call_flow_get(*, project: Project, flow_id: Any) -> CallFlow:
    """The project's flow; 404 for any other (another project's flows do not exist here)."""
    try:
        flow_id = int(flow_id)
    except (TypeError, ValueError):
        raise ApiError(ErrorCode.NOT_FOUND, "No such flow.") from None
    flow = _flows(project).filter(pk=flow_id).first()
    if flow is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such flow.")
    return flow


def call_flow_list(*, project: Project, before: Any = None, limit: int = 50) -> tuple[list[CallFlow], bool]:
    """The project's flows, newest first, a page at a time (``before``: a flow id)."""
    flows = _flows(project)
    if before not in (None, ""):
        try:
            flows = flows.filter(pk__lt=int(before))
        except (TypeError, ValueError):
            raise invalid_field("before", "A flow id.") from None
    page = list(flows.order_by("-id")[: limit + 1])
    return page[:limit], len(page) > limit


def call_flow_versions(*, flow: CallFlow, before: Any = None, limit: int = 50) -> tuple[list[CallFlowVersion], bool]:
    """A flow's versions, newest first (``before``: a version number)."""
    versions = flow.versions.select_related("created_by")
    if before not in (None, ""):
        try:
            versions = versions.filter(number__lt=int(before))
        except (TypeError, ValueError):
            raise invalid_field("before", "A version number.") from None
    page = list(versions.order_by("-number")[: limit + 1])
    return page[:limit], len(page) > limit


def call_flow_version_get(*, flow: CallFlow, number: Any) -> CallFlowVersion:
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise ApiError(ErrorCode.NOT_FOUND, "No such version of this flow.") from None
    version = flow.versions.select_related("created_by").filter(number=number).first()
    if version is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such version of this flow.")
    return version
