"""Writes of call flows: create a flow, add a version, activate one (rolling back included).

Versions never change once made (``CallFlowVersion.save`` refuses): a new definition is a new
version with the next number, and which version new calls run is the flow's ``active_version``.
A call keeps the definition it started with, so activating another version affects only calls
that start afterwards.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from accounts.models import User
from fastsock.core.errors import ApiError, ErrorCode, invalid_field

from . import flows
from .models import CallFlow, CallFlowVersion, Project

MAX_NAME = 100


def definition_check(definition: Any, *, field: str = "definition") -> dict[str, Any]:
    """``definition`` if it is a valid flow; otherwise a 400 listing every problem as
    ``{"path", "reason"}`` under ``details[field]``."""
    problems = flows.validate(definition)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ApiError(
            ErrorCode.INVALID,
            f"The flow definition is not valid: {first.path} {first.reason}{more}.",
            details={field: [problem.as_dict() for problem in problems]},
        )
    return definition


def name_check(name: Any) -> str:
    """The flow name, trimmed; a 400 naming ``name`` unless it is 1 to 100 printable characters."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise invalid_field("name", f"A name of 1 to {MAX_NAME} characters.")
    if flows.CONTROL.search(name):
        raise invalid_field("name", "A name without control characters.")
    return name.strip()


def _person(actor: Any) -> User | None:
    # API keys act for a project, not as a person: their versions have no author.
    return actor if isinstance(actor, User) else None


@transaction.atomic
def call_flow_create(*, project: Project, actor: Any, name: Any, definition: Any) -> CallFlow:
    """A new flow whose first version is active at once (``version: 1, active_version: 1``).

    409 when the project already has a flow of that name.
    """
    name = name_check(name)
    definition = definition_check(definition)
    try:
        with transaction.atomic():
            flow = CallFlow.objects.create(project=project, name=name, created_by=_person(actor))
    except IntegrityError:
        raise ApiError(
            ErrorCode.CONFLICT, "This project already has a flow with that name.", details={"name": ["taken"]}
        ) from None
    version = CallFlowVersion.objects.create(flow=flow, number=1, definition=definition, created_by=_person(actor))
    flow.active_version = version
    flow.save(update_fields=["active_version"])
    return flow


@transaction.atomic
def call_flow_version_add(*, flow: CallFlow, actor: Any, definition: Any) -> CallFlowVersion:
    """A new version with the next number; it is not active until activated."""
    definition = definition_check(definition)
    # The flow's row lock makes concurrent saves take numbers one after the other.
    CallFlow.objects.select_for_update().filter(pk=flow.pk).first()
    latest = flow.versions.aggregate(latest=Max("number"))["latest"] or 0
    return CallFlowVersion.objects.create(
        flow=flow, number=latest + 1, definition=definition, created_by=_person(actor)
    )


@transaction.atomic
def call_flow_activate(*, flow: CallFlow, version: CallFlowVersion | int | Any) -> CallFlow:
    """Make ``version`` (a version of this flow, or its number) the one new calls run.

    Rolling back is activating an older version. A version of another flow is a 404, as if it
    did not exist, so another project's versions cannot be probed.
    """
    if isinstance(version, CallFlowVersion):
        if version.flow_id != flow.pk:
            raise ApiError(ErrorCode.NOT_FOUND, "No such version of this flow.")
        chosen = version
    else:
        if isinstance(version, bool) or not isinstance(version, int | str):
            raise invalid_field("version", "A version number, like 2.")
        try:
            number = int(version)
        except ValueError:
            raise invalid_field("version", "A version number, like 2.") from None
        found = CallFlowVersion.objects.filter(flow=flow, number=number).first()
        if found is None:
            raise ApiError(ErrorCode.NOT_FOUND, f"This flow has no version {number}.", details={"version": ["none"]})
        chosen = found
    locked = CallFlow.objects.select_for_update().get(pk=flow.pk)
    if locked.active_version_id != chosen.pk:
        locked.active_version = chosen
        locked.save(update_fields=["active_version"])
    flow.active_version = chosen
    return flow
