"""Reads of the calls app, permission-checked by the chat's one room-access rule."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from accounts.models import User
from chat import selectors as chat_selectors
from fastsock.core.errors import ApiError, ErrorCode

from .models import Call


def live_call_of(*, user_id: int, exclude_id: int | None = None) -> Call | None:
    """The direct call the user is ringing in or talking in, if any (a person has one at a time)."""
    calls = Call.objects.filter(Q(caller_id=user_id) | Q(callee_id=user_id), kind=Call.Kind.DIRECT).exclude(
        state=Call.State.ENDED
    )
    if exclude_id is not None:
        calls = calls.exclude(pk=exclude_id)
    return calls.order_by("-id").first()


def call_for_party(*, call_id: Any, user: User) -> Call:
    """A direct call of which the user is a party; 404 for anyone else (as for a missing call)."""
    try:
        call_id = int(call_id)
    except (TypeError, ValueError):
        raise ApiError(ErrorCode.INVALID, "call_id must be a number.", details={"call_id": ["invalid"]}) from None
    call = (
        Call.objects.select_related("caller", "callee")
        .filter(Q(caller_id=user.pk) | Q(callee_id=user.pk), pk=call_id, kind=Call.Kind.DIRECT)
        .first()
    )
    if call is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such call.")
    return call


def calls_with_device(*, device: str) -> list[Call]:
    """Live calls in which this socket is a party's device (to end them if it does not come back)."""
    return list(Call.objects.filter(Q(caller_device=device) | Q(callee_device=device)).exclude(state=Call.State.ENDED))


def call_history(
    *, user: User, room_id: Any | None = None, before: int | None = None, limit: int = 50
) -> tuple[list[Call], bool]:
    """Calls of one room (its members only), or every call the user was part of; newest first."""
    if room_id is not None:
        membership = chat_selectors.membership_for(room_id=room_id, user=user)
        calls: QuerySet[Call] = Call.objects.filter(room_id=membership.room_id)
    else:
        calls = Call.objects.filter(
            Q(caller_id=user.pk) | Q(callee_id=user.pk) | Q(participants__user_id=user.pk)
        ).distinct()
    if before is not None:
        calls = calls.filter(pk__lt=before)
    page = list(calls.select_related("caller", "callee").prefetch_related("events").order_by("-id")[: limit + 1])
    return page[:limit], len(page) > limit
