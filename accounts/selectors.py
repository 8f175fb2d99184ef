"""Reads about users."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import User


def user_username_taken(*, username: str) -> bool:
    return User.objects.filter(username__iexact=username).exists()


def user_search(
    *, query: str, exclude_user_id: int | None = None, limit: int = 20, after: str | None = None
) -> QuerySet[User]:
    """Active people whose username or display name contains ``query`` (for member pickers).

    Ordered by username; ``after`` (a username) continues from the previous page.
    """
    users = User.objects.filter(is_active=True)
    if after:
        users = users.filter(username__gt=after)
    query = query.strip()
    if query:
        users = users.filter(Q(username__icontains=query) | Q(display_name__icontains=query))
    if exclude_user_id is not None:
        users = users.exclude(pk=exclude_user_id)
    return users.order_by("username")[:limit]
