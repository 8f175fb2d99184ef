"""Writes about rooms; every rule about rooms and membership lives here."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from accounts.models import User
from fastsock.core.errors import ApiError, ErrorCode

from .models import Membership, Room


def direct_key_for(user_a_id: int, user_b_id: int) -> str:
    low, high = sorted((user_a_id, user_b_id))
    return f"{low}:{high}"


@transaction.atomic
def room_create_group(*, creator: User, name: str, member_ids: Iterable[int] = ()) -> Room:
    """Create a group room; the creator becomes its owner and the others plain members."""
    name = name.strip()
    if not name:
        raise ApiError(ErrorCode.INVALID, "A group needs a name.", details={"name": ["required"]})
    others = set(User.objects.filter(pk__in=set(member_ids), is_active=True).values_list("pk", flat=True))
    others.discard(creator.pk)
    room = Room.objects.create(kind=Room.Kind.GROUP, name=name, created_by=creator)
    Membership.objects.create(room=room, user=creator, role=Membership.Role.OWNER)
    Membership.objects.bulk_create(Membership(room=room, user_id=user_id) for user_id in sorted(others))
    return room


def direct_room_get_or_create(*, user: User, other: User) -> tuple[Room, bool]:
    """Return the one direct room of the pair, creating it if needed; safe under races."""
    if user.pk == other.pk:
        raise ApiError(ErrorCode.INVALID, "A direct room needs another person.", details={"user_id": ["yourself"]})
    key = direct_key_for(user.pk, other.pk)
    existing = Room.objects.filter(direct_key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            room = Room.objects.create(kind=Room.Kind.DIRECT, direct_key=key, created_by=user)
            Membership.objects.bulk_create([Membership(room=room, user=user), Membership(room=room, user=other)])
            return room, True
    except IntegrityError:
        # Another request created the pair's room first; that one is the room.
        return Room.objects.get(direct_key=key), False
