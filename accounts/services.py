"""Writes about users: registration and profile changes; every rule about accounts lives here."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from fastsock.core.errors import ApiError, ErrorCode

from .models import User
from .selectors import user_username_taken

USERNAME_TAKEN_MESSAGE = "This username is taken."


def user_registration_problems(
    *, username: str, password: str, email: str = "", display_name: str = ""
) -> dict[str, list[str]]:
    """What stands in the way of registering these details, by field (empty when nothing does)."""
    problems: dict[str, list[str]] = {}
    if user_username_taken(username=username):
        problems["username"] = [USERNAME_TAKEN_MESSAGE]
    try:
        validate_password(password, user=User(username=username, email=email, display_name=display_name))
    except DjangoValidationError as exc:
        problems["password"] = list(exc.messages)
    return problems


def _invalid(problems: dict[str, list[str]]) -> ApiError:
    return ApiError(ErrorCode.INVALID, "Invalid input: " + ", ".join(sorted(problems)) + ".", details=problems)


@transaction.atomic
def user_register(*, username: str, password: str, email: str = "", display_name: str = "") -> User:
    """Create an active user after checking the name is free and the password is strong enough."""
    problems = user_registration_problems(username=username, password=password, email=email, display_name=display_name)
    if problems:
        raise _invalid(problems)
    user = User(username=username, email=email, display_name=display_name)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Two registrations raced for the same name; the unique index decided.
        raise _invalid({"username": [USERNAME_TAKEN_MESSAGE]}) from None
    return user


def user_profile_update(*, user: User, display_name: str | None = None, status_message: str | None = None) -> User:
    fields: list[str] = []
    if display_name is not None:
        user.display_name = display_name.strip()
        fields.append("display_name")
    if status_message is not None:
        user.status_message = status_message.strip()
        fields.append("status_message")
    if fields:
        user.save(update_fields=fields)
    return user


def user_password_change(*, user: User, password: str) -> User:
    """Give the user a new password.

    The caller has checked the current password and the password validators (the settings
    page's form does both). Every other session of the user ends, since their session hash no
    longer matches; the caller keeps its own with ``update_session_auth_hash``.
    """
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def user_mark_seen(*, user_id: int) -> None:
    User.objects.filter(pk=user_id).update(last_seen=timezone.now())
