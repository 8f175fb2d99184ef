"""Reads about rooms and messages.

Room access is decided in one place, :func:`memberships_for_many` (:func:`membership_for` is
its one-room form): REST views, WebSocket handlers, search, receipts and attachment downloads
all ask it. A room the caller is not a member of is
reported exactly like a room that does not exist, so nobody learns which rooms exist.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Min, Q, QuerySet

from accounts.models import User
from fastsock.core.errors import ApiError, ErrorCode
from fastsock.core.sql import ModelColumns

from .models import Membership, Message, Reaction, ReceiptMark, Room

ROOM_NOT_FOUND = "No such room."
MESSAGE_NOT_FOUND = "No such message."


def room_not_found() -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, ROOM_NOT_FOUND)


def _room_key(room_id: Any) -> int:
    try:
        return int(room_id)
    except (TypeError, ValueError):
        raise room_not_found() from None


def membership_for(*, room_id: Any, user: User) -> Membership:
    """The caller's membership of the room, or 404 whether the room is missing or not theirs."""
    membership = memberships_for_many([(room_id, user)])[0]
    if isinstance(membership, ApiError):
        raise membership
    return membership


def memberships_for_many(pairs: list[tuple[Any, User]]) -> list[Membership | ApiError]:
    """The rule itself, for many ``(room_id, user)`` pairs in one query: for each pair the
    caller's membership (with its room, and the user already set on it), or the error —
    404 whether the room is missing or not theirs."""
    keys: list[tuple[int, User] | ApiError] = []
    for room_id, user in pairs:
        if not getattr(user, "is_authenticated", False):
            keys.append(ApiError(ErrorCode.NOT_AUTHENTICATED, "Authentication is required."))
            continue
        try:
            keys.append((_room_key(room_id), user))
        except ApiError as error:
            keys.append(error)
    wanted = sorted({(key[0], key[1].pk) for key in keys if not isinstance(key, ApiError)})
    found = _memberships_with_rooms(wanted)
    results: list[Membership | ApiError] = []
    for key in keys:
        if isinstance(key, ApiError):
            results.append(key)
            continue
        room_id, user = key
        membership = found.get((room_id, user.pk))
        if membership is None:
            results.append(room_not_found())
            continue
        membership.user = user
        results.append(membership)
    return results


def _memberships_with_rooms(pairs: list[tuple[int, int]]) -> dict[tuple[int, int], Membership]:
    """``(room_id, user_id)`` → the membership, its room loaded; a fresh instance per call.

    Hand-written SQL loaded through the models' own converters (``fastsock.core.sql``): every
    message sent asks this, and building and compiling the same query with the ORM each time
    cost over a millisecond of CPU per send, more than the rest of a send together.
    """
    if not pairs:
        return {}
    memberships, rooms = Membership._meta.db_table, Room._meta.db_table
    match = " OR ".join(["(m.room_id = %s AND m.user_id = %s)"] * len(pairs))
    sql = (
        f"SELECT {_MEMBERSHIP_COLUMNS.select('m')}, {_ROOM_COLUMNS.select('r')}"  # noqa: S608 - our own names
        f" FROM {memberships} AS m JOIN {rooms} AS r ON r.id = m.room_id WHERE {match}"
    )
    found: dict[tuple[int, int], Membership] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for pair in pairs for value in pair])
        for row in cursor.fetchall():
            membership = _MEMBERSHIP_COLUMNS.load(row)
            membership.room = _ROOM_COLUMNS.load(row, start=_MEMBERSHIP_COLUMNS.width)
            found[(membership.room_id, membership.user_id)] = membership
    return found


_MEMBERSHIP_COLUMNS = ModelColumns(Membership)
_ROOM_COLUMNS = ModelColumns(Room)


def message_for(*, message_id: Any, user: User) -> tuple[Message, Membership]:
    """A message in one of the caller's rooms with the caller's membership there, or 404."""
    try:
        message_id = int(message_id)
    except (TypeError, ValueError):
        raise ApiError(ErrorCode.NOT_FOUND, MESSAGE_NOT_FOUND) from None
    message = Message.objects.select_related("room").filter(pk=message_id).first()
    if message is None:
        raise ApiError(ErrorCode.NOT_FOUND, MESSAGE_NOT_FOUND)
    membership = Membership.objects.filter(room_id=message.room_id, user=user).first()
    if membership is None:
        raise ApiError(ErrorCode.NOT_FOUND, MESSAGE_NOT_FOUND)
    return message, membership


def member_ids(*, room_id: int) -> list[int]:
    return list(Membership.objects.filter(room_id=room_id).values_list("user_id", flat=True))


# --- Rooms ------------------------------------------------------------------------------------


def unread_messages(*, room_id: Any, after_id: Any, reader_id: Any) -> QuerySet[Message]:
    """The one unread rule: live messages from people, after the reader's watermark, not theirs.

    System messages (sender null) and deleted messages never count. Arguments may be values or
    ``OuterRef`` expressions, so the same rule serves one member or every row of a query.
    """
    return (
        Message.objects.filter(room_id=room_id, deleted_at__isnull=True, sender_id__isnull=False)
        .filter(id__gt=after_id)
        .exclude(sender_id=reader_id)
    )


def unread_count(*, membership: Membership) -> int:
    """Count by the rule (services keep ``Membership.unread_count`` equal to this)."""
    return unread_messages(
        room_id=membership.room_id, after_id=membership.last_read_message_id or 0, reader_id=membership.user_id
    ).count()


def membership_list(*, user: User, before: tuple[datetime, int] | None = None, limit: int = 50) -> list[Membership]:
    """The caller's memberships, most recently active room first (each carries its unread count).

    Keyset-paginated on (room.last_activity_at, room.id).
    """
    memberships = (
        Membership.objects.filter(user=user)
        .select_related(
            "room",
            "room__last_message",
            "room__last_message__sender",
            "room__last_message__attachment",
            "room__last_message__reply_to",
            "room__last_message__reply_to__sender",
        )
        .order_by("-room__last_activity_at", "-room_id")
    )
    if before is not None:
        at, room_id = before
        memberships = memberships.filter(
            Q(room__last_activity_at__lt=at) | Q(room__last_activity_at=at, room_id__lt=room_id)
        )
    return list(memberships[:limit])


def direct_peers(*, room_ids: Iterable[int], user: User) -> dict[int, User]:
    """For direct rooms, the other person, by room id (one query)."""
    peers: dict[int, User] = {}
    rows = Membership.objects.filter(room_id__in=list(room_ids), room__kind=Room.Kind.DIRECT).exclude(user=user)
    for membership in rows.select_related("user"):
        peers[membership.room_id] = membership.user
    return peers


def room_members(*, room_id: int) -> QuerySet[Membership]:
    return Membership.objects.filter(room_id=room_id).select_related("user").order_by("joined_at", "id")


# --- Messages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryPage:
    messages: list[Message]
    has_older: bool
    has_newer: bool


def _message_rows() -> QuerySet[Message]:
    return Message.objects.select_related("sender", "attachment", "reply_to", "reply_to__sender")


def history_page(*, room_id: int, before: int | None = None, after: int | None = None, limit: int = 50) -> HistoryPage:
    """One page of a room's history, oldest first within the page.

    Without cursors: the newest page. ``before``: the page just older than that id.
    ``after``: the page just newer than that id (for catching up).
    """
    rows = _message_rows().filter(room_id=room_id)
    if after is not None:
        page = list(rows.filter(id__gt=after).order_by("id")[: limit + 1])
        has_newer = len(page) > limit
        page = page[:limit]
        has_older = True if after > 0 else Message.objects.filter(room_id=room_id, id__lte=after).exists()
        return HistoryPage(page, has_older=has_older, has_newer=has_newer)
    if before is not None:
        rows = rows.filter(id__lt=before)
    page = list(rows.order_by("-id")[: limit + 1])
    has_older = len(page) > limit
    page = list(reversed(page[:limit]))
    return HistoryPage(page, has_older=has_older, has_newer=before is not None)


def reaction_summaries(*, message_ids: Iterable[int], viewer_id: int | None) -> dict[int, list[dict[str, Any]]]:
    """Per message: ``[{emoji, count, me, user_ids}]`` in order of first use (one query)."""
    ids = list(message_ids)
    summaries: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not ids:
        return summaries
    rows = (
        Reaction.objects.filter(message_id__in=ids, message__deleted_at__isnull=True)
        .order_by("message_id", "id")
        .values_list("message_id", "emoji", "user_id")
    )
    by_emoji: dict[tuple[int, str], dict[str, Any]] = {}
    for message_id, emoji, user_id in rows:
        entry = by_emoji.get((message_id, emoji))
        if entry is None:
            entry = by_emoji[(message_id, emoji)] = {"emoji": emoji, "count": 0, "me": False, "user_ids": []}
            summaries[message_id].append(entry)
        entry["count"] += 1
        entry["me"] = entry["me"] or user_id == viewer_id
        entry["user_ids"].append(user_id)
    return summaries


def message_receipts(*, message: Message) -> list[dict[str, Any]]:
    """For each member but the sender: when they received and read this message (or null)."""
    # Watermarks only grow, so the earliest mark at or past the message is when it was reached.
    rows = (
        ReceiptMark.objects.filter(room_id=message.room_id, up_to_message_id__gte=message.pk)
        .values("user_id", "kind")
        .annotate(first_at=Min("at"))
        .order_by()
    )
    marks: dict[tuple[int, str], datetime] = {(row["user_id"], row["kind"]): row["first_at"] for row in rows}
    receipts = []
    for membership in room_members(room_id=message.room_id).exclude(user_id=message.sender_id):
        read_at = marks.get((membership.user_id, ReceiptMark.Kind.READ))
        delivered_at = marks.get((membership.user_id, ReceiptMark.Kind.DELIVERED)) or read_at
        receipts.append({"user": membership.user, "delivered_at": delivered_at, "read_at": read_at})
    return receipts


def co_member_ids(user_id: int) -> list[int]:
    """Everyone who shares at least one room with the user (who may see their presence)."""
    rooms = Membership.objects.filter(user_id=user_id).values("room_id")
    return list(Membership.objects.filter(room_id__in=rooms).values_list("user_id", flat=True).distinct())
