"""Reads of the telecom app: which project a request acts for, and what it may see there."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from fastsock.core.errors import ApiError, ErrorCode, invalid_field

from .models import ApiKey, Project, ProjectMember, SmsMessage, VoiceCall

PROJECT_HEADER = "HTTP_FASTSOCK_PROJECT"


def _not_found() -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, "No such project.")


def membership_of(*, user: Any, project_id: Any) -> ProjectMember:
    """The user's membership of a project; 404 for projects they are not in (as for missing ones)."""
    try:
        project_id = int(project_id)
    except (TypeError, ValueError):
        raise _not_found() from None
    membership = ProjectMember.objects.select_related("project").filter(project_id=project_id, user=user).first()
    if membership is None:
        raise _not_found()
    return membership


def owned_project(*, user: Any, project_id: Any) -> Project:
    membership = membership_of(user=user, project_id=project_id)
    if membership.role != ProjectMember.Role.OWNER:
        raise ApiError(ErrorCode.FORBIDDEN, "Only the project's owners may do this.")
    return membership.project


def projects_of(*, user: Any) -> QuerySet[Project]:
    return Project.objects.filter(memberships__user=user).order_by("id")


def acting_project(request: Any, *, scope: str) -> tuple[Project, ApiKey | None]:
    """The project a /v1 request acts for: an API key's own (it must carry ``scope``), or for a
    person's JWT the project named by the ``FastSock-Project`` header (or their only one)."""
    api_key = request.auth if isinstance(request.auth, ApiKey) else None
    if api_key is not None:
        if api_key.scopes and scope not in api_key.scopes:
            raise ApiError(ErrorCode.FORBIDDEN, f"This API key has no '{scope}' scope.")
        return api_key.project, api_key
    named = request.META.get(PROJECT_HEADER) or request.query_params.get("project")
    if named:
        return membership_of(user=request.user, project_id=named).project, None
    projects = list(projects_of(user=request.user)[:2])
    if len(projects) == 1:
        return projects[0], None
    raise invalid_field("project", "Name the project: a FastSock-Project header (you are in several, or none).")


def message_for(*, project: Project, sid: str) -> SmsMessage:
    message = SmsMessage.objects.filter(project=project, sid=sid).first()
    if message is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such message.")
    return message


def message_list(
    *, project: Project, status: str | None = None, to: str | None = None, before: str | None = None, limit: int = 50
) -> tuple[list[SmsMessage], bool]:
    messages = SmsMessage.objects.filter(project=project)
    return _page_by_sid(messages, status=status, to=to, before=before, limit=limit, what="message")


def _page_by_sid(
    rows: QuerySet[Any], *, status: str | None, to: str | None, before: str | None, limit: int, what: str
) -> tuple[list[Any], bool]:
    """One page of a project's messages or calls, newest first, filtered, older than ``before``
    (a sid of the same project); and whether there is more."""
    if before:
        anchor_id = rows.filter(sid=before).values_list("id", flat=True).first()
        if anchor_id is None:
            raise invalid_field("before", f"Not a {what} of this project.")
        rows = rows.filter(id__lt=anchor_id)
    if status:
        rows = rows.filter(status=status)
    if to:
        rows = rows.filter(to_number=to)
    page = list(rows.order_by("-id")[: limit + 1])
    return page[:limit], len(page) > limit


def call_for(*, project: Project, sid: str) -> VoiceCall:
    call = VoiceCall.objects.select_related("flow_version", "connector").filter(project=project, sid=sid).first()
    if call is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such call.")
    return call


def call_list(
    *, project: Project, status: str | None = None, to: str | None = None, before: str | None = None, limit: int = 50
) -> tuple[list[VoiceCall], bool]:
    calls = VoiceCall.objects.filter(project=project).select_related("flow_version", "connector")
    return _page_by_sid(calls, status=status, to=to, before=before, limit=limit, what="call")
