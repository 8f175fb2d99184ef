"""Reads about rooms. Room access is decided here, in one place, for every caller."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User

from .models import Room


def room_list_for_user(*, user: User) -> QuerySet[Room]:
    return Room.objects.filter(memberships__user=user).order_by("-updated_at", "-pk")


def room_is_member(*, room_id: int, user_id: int) -> bool:
    """The single answer to "may this user see this room?"."""
    return Room.objects.filter(pk=room_id, memberships__user_id=user_id).exists()
