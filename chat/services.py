"""Writes about rooms and messages; every rule about them lives here.

Callers pass the actor's :class:`Membership`, obtained from ``selectors.membership_for`` (which
is where room access is decided); services then check what that member may do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from fastsock.core.errors import ApiError, ErrorCode, invalid_field
from fastsock.core.sql import ModelColumns

from . import events, selectors
from .models import Attachment, Membership, Message, MessageEdit, Reaction, ReceiptMark, Room

_MESSAGE_COLUMNS = ModelColumns(Message)
CLIENT_SENDABLE_TYPES = {Message.Type.TEXT, Message.Type.IMAGE, Message.Type.FILE}
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Emoji: pictographs with their joiners, variation selectors, skin tones, keycaps and flags;
# or a :shortcode: for custom ones.
_EMOJI = re.compile(
    "^(?:[\U0001f000-\U0001faff\u2600-\u27bf\u2300-\u23ff\u2b00-\u2bff\u2190-\u21ff\u3030\u303d\u3297\u3299"
    "\u00a9\u00ae\u2122\u203c\u2049\u2139\u24c2\u25aa-\u25fe\u2934\u2935\ufe0f\u200d\u20e3#*0-9"
    "\U0001f1e6-\U0001f1ff\U000e0020-\U000e007f]{1,16}|:[a-z0-9_+-]{1,30}:)$"
)


def _forbidden(message: str) -> ApiError:
    return ApiError(ErrorCode.FORBIDDEN, message)


def direct_key_for(user_a_id: int, user_b_id: int) -> str:
    low, high = sorted((user_a_id, user_b_id))
    return f"{low}:{high}"


def _system_message(*, room: Room, content: str) -> Message:
    message = Message.objects.create(room=room, type=Message.Type.SYSTEM, content=content)
    Room.objects.filter(pk=room.pk).update(last_message=message, last_activity_at=message.created_at)
    events.notify_message_new(message)
    return message


def room_note_post(*, room: Room, content: str, from_user: User | None = None) -> Message:
    """A note in a room's timeline about something that happened there (a call, say).

    A note *from* someone counts as unread for the room's other members, as a message of
    theirs would: a missed call is news to whoever missed it. Without ``from_user`` it is a
    plain system message, unread for nobody. Clients show both as notes, not as bubbles.
    """
    with transaction.atomic():
        if from_user is None:
            return _system_message(room=room, content=content)
        note = Message(room=room, sender=from_user, type=Message.Type.SYSTEM, content=content)
        _store_new_messages([note])
        return note


def _active_users(user_ids: Iterable[int]) -> list[User]:
    ids = {int(user_id) for user_id in user_ids}
    users = list(User.objects.filter(pk__in=ids, is_active=True).order_by("pk"))
    missing = ids - {user.pk for user in users}
    if missing:
        raise invalid_field("member_ids", f"No such people: {', '.join(str(pk) for pk in sorted(missing))}.")
    return users


# --- Unread counters ----------------------------------------------------------------------------
# Membership.unread_count is kept equal to the unread rule (selectors.unread_messages) by the
# three changes that move it: a message from someone else (+1), the deletion of an unread one
# (-1) and a move of the read watermark (recount). Each runs in the transaction of its change.


def _record_new_messages(messages: list[Message]) -> dict[tuple[int, int], int]:
    """Each room's latest activity, and +1 unread per message for every member but its sender;
    returns the new counts that rose, by ``(room_id, user_id)``. On PostgreSQL in one statement.

    Rooms and then memberships are locked in id order, so that two batches touching the same
    rooms in another order wait for each other instead of deadlocking.
    """
    latest: dict[int, Message] = {}
    for message in messages:
        if message.room_id not in latest or message.pk > latest[message.room_id].pk:
            latest[message.room_id] = message
    rooms, memberships = Room._meta.db_table, Membership._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "WITH new AS ("  # noqa: S608 - our own table names
                "  SELECT (x->>0)::bigint AS room_id, (x->>1)::bigint AS sender_id"
                "  FROM jsonb_array_elements(%s::jsonb) AS x"
                "), latest AS ("
                "  SELECT (x->>0)::bigint AS room_id, (x->>1)::bigint AS message_id, (x->>2)::timestamptz AS at"
                "  FROM jsonb_array_elements(%s::jsonb) AS x"
                f"), activity AS (UPDATE {rooms} AS r"
                "  SET last_message_id = latest.message_id, last_activity_at = latest.at"
                f"  FROM latest, (SELECT id FROM {rooms} WHERE id IN (SELECT room_id FROM latest)"
                "    ORDER BY id FOR NO KEY UPDATE) AS locked"
                "  WHERE r.id = latest.room_id AND r.id = locked.id RETURNING r.id"
                f"), members AS (SELECT m.id, m.room_id, m.user_id FROM {memberships} AS m"
                "  WHERE m.room_id IN (SELECT id FROM activity) ORDER BY m.id FOR UPDATE"
                "), raised AS (SELECT members.id, count(*) AS n FROM members"
                "  JOIN new ON new.room_id = members.room_id AND new.sender_id <> members.user_id GROUP BY members.id"
                f") UPDATE {memberships} AS m SET unread_count = m.unread_count + raised.n FROM raised"
                " WHERE m.id = raised.id RETURNING m.room_id, m.user_id, m.unread_count",
                [
                    json.dumps([[message.room_id, message.sender_id] for message in messages]),
                    json.dumps([[room_id, m.pk, m.created_at.isoformat()] for room_id, m in latest.items()]),
                ],
            )
            return {(room_id, user_id): count for room_id, user_id, count in cursor.fetchall()}
        for room_id, message in sorted(latest.items()):
            Room.objects.filter(pk=room_id).update(last_message=message, last_activity_at=message.created_at)
        counts: dict[tuple[int, int], int] = {}
        for message in messages:
            cursor.execute(
                f"UPDATE {memberships} SET unread_count = unread_count + 1 "  # noqa: S608 - our own table name
                "WHERE room_id = %s AND user_id <> %s RETURNING user_id, unread_count",
                [message.room_id, message.sender_id],
            )
            counts.update(((message.room_id, user_id), count) for user_id, count in cursor.fetchall())
        return counts


def _uncount_deleted_message(message: Message) -> dict[int, int]:
    """-1 for every member who had not read it (the sender never counted it); their new counts.

    Locks as a send does, the room first and then its memberships in id order: a delete that
    updated the rows in whatever order the table gave them deadlocked with sends to the room.
    """
    rooms, memberships = Room._meta.db_table, Membership._meta.db_table
    lock = ""
    if connection.vendor == "postgresql":
        lock = (
            f"AND id IN (SELECT m.id FROM {memberships} AS m WHERE m.room_id = ("  # noqa: S608 - our own tables
            f"SELECT id FROM {rooms} WHERE id = %(room)s FOR NO KEY UPDATE) ORDER BY m.id FOR UPDATE) "
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {memberships} SET unread_count = unread_count - 1 "  # noqa: S608 - our own table name
            "WHERE room_id = %(room)s AND user_id <> %(sender)s AND unread_count > 0 "
            f"AND (last_read_message_id IS NULL OR last_read_message_id < %(message)s) {lock}"
            "RETURNING user_id, unread_count",
            {"room": message.room_id, "sender": message.sender_id, "message": message.pk},
        )
        return dict(cursor.fetchall())


def _recount_unread(membership: Membership) -> int:
    """Count by the rule under the membership's row lock and store it.

    The lock is taken first, in its own statement, so that the count (a later statement, with a
    later snapshot) sees every send or delete that touched this member's counter before us.
    """
    watermark = (
        Membership.objects.select_for_update()
        .filter(pk=membership.pk)
        .values_list("last_read_message_id", flat=True)
        .first()
    )
    membership.last_read_message_id = watermark
    count = selectors.unread_count(membership=membership)
    Membership.objects.filter(pk=membership.pk).update(unread_count=count)
    membership.unread_count = count
    return count


@transaction.atomic
def membership_recount_unread(*, membership: Membership) -> int:
    """Count a membership's unread by the rule, for memberships made or changed outside these
    services (the back office)."""
    return _recount_unread(membership)


# --- Rooms ------------------------------------------------------------------------------------


def _clean_room_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise invalid_field("name", "A group needs a name.")
    if len(name) > 100:
        raise invalid_field("name", "At most 100 characters.")
    return name


@transaction.atomic
def room_create_group(*, creator: User, name: str, member_ids: Iterable[int] = ()) -> Room:
    """Create a group room; the creator becomes its owner and the others plain members."""
    name = _clean_room_name(name)
    others = [user for user in _active_users(member_ids) if user.pk != creator.pk]
    if len(others) + 1 > settings.CHAT_MAX_ROOM_MEMBERS:
        raise invalid_field("member_ids", f"A group holds at most {settings.CHAT_MAX_ROOM_MEMBERS} people.")
    room = Room.objects.create(kind=Room.Kind.GROUP, name=name, created_by=creator)
    Membership.objects.create(room=room, user=creator, role=Membership.Role.OWNER)
    Membership.objects.bulk_create(Membership(room=room, user=user) for user in others)
    # The room first, so that clients know it before its first message arrives.
    events.notify_room(room, event=events.ROOM_CREATED)
    _system_message(room=room, content=f"{creator.name} created the group {name}.")
    return room


def direct_room_get_or_create(*, user: User, other: User) -> tuple[Room, bool]:
    """Return the one direct room of the pair, creating it if needed; safe under races."""
    if user.pk == other.pk:
        raise invalid_field("user_id", "A direct room needs another person.")
    if not other.is_active:
        raise invalid_field("user_id", "No such person.")
    key = direct_key_for(user.pk, other.pk)
    existing = Room.objects.filter(direct_key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            room = Room.objects.create(kind=Room.Kind.DIRECT, direct_key=key, created_by=user)
            Membership.objects.bulk_create([Membership(room=room, user=user), Membership(room=room, user=other)])
            events.notify_room(room, event=events.ROOM_CREATED)
            return room, True
    except IntegrityError:
        # Another request created the pair's room first; that one is the room.
        return Room.objects.get(direct_key=key), False


def require_group_admin(actor: Membership) -> None:
    """The one rule for changing a group: it must be a group, and the actor its owner or admin."""
    if actor.room.kind != Room.Kind.GROUP:
        raise _forbidden("Direct rooms cannot be changed.")
    if not actor.is_admin:
        raise _forbidden("Only the room's owners and admins may do this.")


@transaction.atomic
def room_rename(*, actor: Membership, name: str) -> Room:
    require_group_admin(actor)
    room = actor.room
    new_name = _clean_room_name(name)
    if new_name != room.name:
        room.name = new_name
        room.save(update_fields=["name", "updated_at"])
        events.notify_room(room, event=events.ROOM_UPDATED)
        _system_message(room=room, content=f"{actor.user.name} renamed the group to {new_name}.")
    return room


@transaction.atomic
def room_members_add(*, actor: Membership, user_ids: Iterable[int]) -> list[User]:
    """Add people to a group; those already in it are left as they are. Returns who was added."""
    require_group_admin(actor)
    room = actor.room
    users = _active_users(user_ids)
    present = set(Membership.objects.filter(room=room).values_list("user_id", flat=True))
    added = [user for user in users if user.pk not in present]
    if len(present) + len(added) > settings.CHAT_MAX_ROOM_MEMBERS:
        raise invalid_field("user_ids", f"A group holds at most {settings.CHAT_MAX_ROOM_MEMBERS} people.")
    Membership.objects.bulk_create((Membership(room=room, user=user) for user in added), ignore_conflicts=True)
    for membership in Membership.objects.filter(room=room, user__in=added):
        _recount_unread(membership)  # the history they join counts as unread, by the rule
    if added:
        events.notify_room(room, event=events.ROOM_MEMBER_ADDED, user_ids=[user.pk for user in added])
        names = ", ".join(user.name for user in added)
        _system_message(room=room, content=f"{actor.user.name} added {names}.")
    return added


@transaction.atomic
def room_member_remove(*, actor: Membership, user_id: int) -> None:
    """Remove a member (owners and admins), or leave (anyone). Admins cannot remove owners or admins."""
    room = actor.room
    if room.kind != Room.Kind.GROUP:
        raise _forbidden("Nobody can leave or be removed from a direct room.")
    leaving = int(user_id) == actor.user_id
    target = actor if leaving else Membership.objects.select_related("user").filter(room=room, user_id=user_id).first()
    if target is None:
        raise ApiError(ErrorCode.NOT_FOUND, "That person is not in this room.")
    if not leaving:
        if not actor.is_admin:
            raise _forbidden("Only the room's owners and admins may remove people.")
        if actor.role == Membership.Role.ADMIN and target.is_admin:
            raise _forbidden("Admins cannot remove owners or other admins.")
    target.delete()
    if (
        target.role == Membership.Role.OWNER
        and not Membership.objects.filter(room=room, role=Membership.Role.OWNER).exists()
    ):
        # A group always has an owner while it has members: the longest-standing admin, else member.
        successor = (
            Membership.objects.filter(room=room, role=Membership.Role.ADMIN).order_by("joined_at", "id").first()
            or Membership.objects.filter(room=room).order_by("joined_at", "id").first()
        )
        if successor is not None:
            successor.role = Membership.Role.OWNER
            successor.save(update_fields=["role"])
    events.notify_room(room, event=events.ROOM_MEMBER_REMOVED, extra_user_ids=(target.user_id,), user_id=target.user_id)
    name = target.user.name
    _system_message(room=room, content=f"{name} left." if leaving else f"{actor.user.name} removed {name}.")


@transaction.atomic
def room_member_set_role(*, actor: Membership, user_id: int, role: str) -> Membership:
    require_group_admin(actor)
    if actor.role != Membership.Role.OWNER:
        raise _forbidden("Only owners may change roles.")
    if role not in Membership.Role.values:
        raise invalid_field("role", f"One of: {', '.join(Membership.Role.values)}.")
    target = Membership.objects.select_related("user").filter(room=actor.room, user_id=user_id).first()
    if target is None:
        raise ApiError(ErrorCode.NOT_FOUND, "That person is not in this room.")
    other_owners = Membership.objects.filter(room=actor.room, role=Membership.Role.OWNER).exclude(pk=actor.pk)
    if target.pk == actor.pk and role != Membership.Role.OWNER and not other_owners.exists():
        raise _forbidden("Make someone else an owner first.")
    target.role = role
    target.save(update_fields=["role"])
    return target


# --- Messages ---------------------------------------------------------------------------------


def _clean_content(content: Any, *, required: bool) -> str:
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise invalid_field("content", "Must be text.")
    if len(content) > settings.CHAT_MESSAGE_MAX_LENGTH:
        raise invalid_field("content", f"At most {settings.CHAT_MESSAGE_MAX_LENGTH} characters.")
    if required and not content.strip():
        raise invalid_field("content", "A message needs some text or an attachment.")
    return content


@dataclass(frozen=True)
class SendRequest:
    """One send as a client made it; :func:`messages_send_many` checks every field."""

    user: User
    room_id: Any
    content: str | None = ""
    client_id: str | None = None
    type: str | None = None
    attachment_id: int | None = None
    reply_to_id: int | None = None


SendOutcome = tuple[Message, bool] | Exception


def message_send(
    *,
    membership: Membership,
    content: str | None = "",
    client_id: str | None = None,
    type: str | None = None,
    attachment_id: int | None = None,
    reply_to_id: int | None = None,
) -> tuple[Message, bool]:
    """Store a message from a member; a resend with the same ``client_id`` returns the first one.

    Returns ``(message, created)``.
    """
    draft = _draft_message(
        membership,
        content=content,
        client_id=client_id,
        type=type,
        attachment_id=attachment_id,
        reply_to_id=reply_to_id,
    )
    return _store_one(draft)


def messages_send_many(requests: list[SendRequest]) -> list[SendOutcome]:
    """Many sends, by any members to any rooms, stored in one transaction when all are new.

    The WebSocket path under load: what would be a transaction, a handful of statements and
    a commit per message becomes that per batch. Each request gets what :func:`message_send`
    would have given it — ``(message, created)`` or the error it would have raised — and the
    messages get ids in request order. A resend among them (the unique ``client_id`` refuses
    the batch) sends each on its own instead.
    """
    outcomes: list[SendOutcome | None] = [None] * len(requests)
    memberships = selectors.memberships_for_many([(request.room_id, request.user) for request in requests])
    drafts: list[tuple[int, Message]] = []
    for index, (request, membership) in enumerate(zip(requests, memberships, strict=True)):
        if isinstance(membership, ApiError):
            outcomes[index] = membership
            continue
        try:
            drafts.append((index, _draft_message(
                membership,
                content=request.content,
                client_id=request.client_id,
                type=request.type,
                attachment_id=request.attachment_id,
                reply_to_id=request.reply_to_id,
            )))  # fmt: skip
        except ApiError as error:
            outcomes[index] = error
    if drafts:
        try:
            with transaction.atomic():
                _store_new_messages([draft for _, draft in drafts])
            for index, draft in drafts:
                outcomes[index] = (draft, True)
        except (IntegrityError, OperationalError):
            for index, draft in drafts:
                try:
                    outcomes[index] = _store_one(draft)
                except Exception as error:  # noqa: BLE001 - handed to that request's caller
                    outcomes[index] = error
    return cast("list[Any]", outcomes)  # every entry was filled above, in request order


def _draft_message(
    membership: Membership,
    *,
    content: str | None,
    client_id: str | None,
    type: str | None,
    attachment_id: int | None,
    reply_to_id: int | None,
) -> Message:
    """The unsaved message a member's send describes, or the ``ApiError`` saying what is wrong."""
    sender = membership.user
    room = membership.room
    if client_id is not None and (not isinstance(client_id, str) or not _CLIENT_ID.match(client_id)):
        raise invalid_field("client_id", "1 to 64 characters of letters, digits and . _ : -")

    attachment = None
    if attachment_id is not None:
        attachment = Attachment.objects.filter(pk=attachment_id, uploader=sender).first()
        if attachment is None:
            raise invalid_field("attachment_id", "No such upload of yours.")
    content = _clean_content(content, required=attachment is None)
    message_type = type or (
        (Message.Type.IMAGE if attachment.kind == Attachment.Kind.IMAGE else Message.Type.FILE)
        if attachment
        else Message.Type.TEXT
    )
    if message_type not in CLIENT_SENDABLE_TYPES:
        raise invalid_field("type", "Clients may send text, image or file messages.")
    if message_type != Message.Type.TEXT and attachment is None:
        raise invalid_field("attachment_id", f"A {message_type} message needs an attachment.")
    reply_to = None
    if reply_to_id is not None:
        reply_to = Message.objects.filter(pk=reply_to_id, room=room).first()
        if reply_to is None:
            raise invalid_field("reply_to", "No such message in this room.")
    return Message(
        room=room,
        sender=sender,
        type=message_type,
        content=content,
        attachment=attachment,
        reply_to=reply_to,
        client_id=client_id,
    )


_new_message_hooks: list[Callable[[list[Message]], None]] = []


def on_new_messages(hook: Callable[[list[Message]], None]) -> None:
    """Have ``hook(messages)`` called after commit with every batch of newly stored messages.

    For other apps that act on what people write (telecom turns a reply in an SMS conversation
    into an SMS) without the chat knowing about them.
    """
    if hook not in _new_message_hooks:
        _new_message_hooks.append(hook)


def _store_new_messages(drafts: list[Message]) -> None:
    """The messages, their rooms' activity, the unread counters and the events, in the caller's
    transaction: a message exists exactly when its events do. The sender's read watermark stays
    where it is: own messages never count as unread anyway, and moving it would mark as read
    what others sent a moment before, unseen."""
    _MESSAGE_COLUMNS.insert(drafts)
    unread_counts = _record_new_messages(drafts)
    events.notify_messages_new(drafts, unread_counts=unread_counts)
    for hook in _new_message_hooks:
        transaction.on_commit(lambda hook=hook: hook(list(drafts)), robust=True)


def room_message_post_from_outside(
    *, room: Room, sender: User, content: str, type: str, attachments: Iterable[Attachment] = ()
) -> Message:
    """A message that comes into a room from outside the chat (an SMS, say) on behalf of a
    sender who is not a member: it counts as unread for every member and reaches their sockets.

    A message carries one attachment: the first goes with the text, each further one follows in
    a message of its own, stored together. Returns the first message.
    """
    if type not in (Message.Type.SMS,):
        raise ValueError(f"{type} messages do not come from outside")
    first, *more = list(attachments) or [None]
    messages = [
        Message(
            room=room, sender=sender, type=type, content=content[: settings.CHAT_MESSAGE_MAX_LENGTH], attachment=first
        )
    ]
    messages += [Message(room=room, sender=sender, type=type, content="", attachment=each) for each in more]
    with transaction.atomic():
        _store_new_messages(messages)
    return messages[0]


def _store_one(draft: Message) -> tuple[Message, bool]:
    """Store one message on its own. A resend needs no look-up first: the unique (sender,
    client_id) constraint refuses it at the first statement, the transaction rolls back, and
    the first message is returned."""
    draft.pk = None  # a batch that failed may have given it an id before rolling back
    draft._state.adding = True
    try:
        with transaction.atomic():
            _store_new_messages([draft])
    except IntegrityError:
        existing = (
            Message.objects.select_related("sender", "attachment")
            .filter(sender=draft.sender, client_id=draft.client_id)
            .first()
            if draft.client_id is not None
            else None
        )
        if existing is None:
            raise
        return _same_send_or_conflict(existing, draft.room)
    return draft, True


def _same_send_or_conflict(existing: Message, room: Room) -> tuple[Message, bool]:
    if existing.room_id != room.pk:
        raise ApiError(
            ErrorCode.CONFLICT,
            "This client_id was already used for a message in another room.",
            details={"client_id": ["already used"]},
        )
    return existing, False


def _require_live(message: Message) -> None:
    if message.deleted_at is not None:
        raise ApiError(ErrorCode.NOT_FOUND, "This message was deleted.")


@transaction.atomic
def message_edit(*, membership: Membership, message: Message, content: str) -> Message:
    """Change a message's text (author only), keeping the earlier version in its history."""
    message = Message.objects.select_for_update().get(pk=message.pk)
    _require_live(message)
    if message.sender_id != membership.user_id or message.type == Message.Type.SYSTEM:
        raise _forbidden("Only the author may edit a message.")
    content = _clean_content(content, required=message.attachment_id is None)
    if content == message.content:
        return message
    MessageEdit.objects.create(message=message, previous_content=message.content, edited_by=membership.user)
    message.content = content
    message.edited_at = timezone.now()
    message.save(update_fields=["content", "edited_at"])
    events.notify_message_changed(message, event=events.MESSAGE_UPDATED)
    return message


@transaction.atomic
def message_delete(*, membership: Membership, message: Message) -> Message:
    """Leave a tombstone: the author, or the room's owners and admins, may delete."""
    message = Message.objects.select_for_update().get(pk=message.pk)
    _require_live(message)
    if message.sender_id != membership.user_id and not membership.is_admin:
        raise _forbidden("Only the author or the room's admins may delete a message.")
    return _tombstone(message, deleted_by=membership.user)


@transaction.atomic
def message_moderate_delete(*, message: Message, moderator: User) -> Message:
    """A moderator's delete from the back office: the same tombstone, whatever the room."""
    message = Message.objects.select_for_update().get(pk=message.pk)
    _require_live(message)
    return _tombstone(message, deleted_by=moderator)


def _tombstone(message: Message, *, deleted_by: User) -> Message:
    message.deleted_at = timezone.now()
    message.deleted_by = deleted_by
    message.content = ""
    message.attachment = None
    message.save(update_fields=["deleted_at", "deleted_by", "content", "attachment"])
    message.reactions.all().delete()
    message.edits.all().delete()
    unread_counts = _uncount_deleted_message(message) if message.sender_id is not None else {}
    events.notify_message_changed(message, event=events.MESSAGE_DELETED, unread_counts=unread_counts)
    return message


def _clean_emoji(emoji: Any) -> str:
    if not isinstance(emoji, str) or not _EMOJI.match(emoji):
        raise invalid_field("emoji", "One emoji (or a :shortcode:).")
    return emoji


def reaction_add(*, membership: Membership, message: Message, emoji: str) -> bool:
    """React once per (person, emoji); returns whether the reaction is new."""
    _require_live(message)
    emoji = _clean_emoji(emoji)
    emoji_used = Reaction.objects.filter(message=message).values("emoji").distinct()
    limit = settings.CHAT_MAX_EMOJI_PER_MESSAGE
    if emoji_used.count() >= limit and not emoji_used.filter(emoji=emoji).exists():
        raise invalid_field("emoji", f"A message holds at most {limit} different emoji.")
    with transaction.atomic():
        _, created = Reaction.objects.get_or_create(message=message, user=membership.user, emoji=emoji)
        if created:
            events.notify_reaction(message, user_id=membership.user_id, emoji=emoji, on=True)
    return created


def reaction_remove(*, membership: Membership, message: Message, emoji: str) -> bool:
    _require_live(message)
    with transaction.atomic():
        deleted, _ = Reaction.objects.filter(message=message, user=membership.user, emoji=emoji).delete()
        if deleted:
            events.notify_reaction(message, user_id=membership.user_id, emoji=emoji, on=False)
    return deleted > 0


# --- Read and delivery state ------------------------------------------------------------------


_WATERMARK_FIELDS = {
    ReceiptMark.Kind.READ: ("last_read_message_id", "last_read_at"),
    ReceiptMark.Kind.DELIVERED: ("last_delivered_message_id", "last_delivered_at"),
}


def _advance_watermark(*, membership: Membership, kind: str, message_id: int, now: Any = None) -> bool:
    """Move a watermark forward to ``message_id``; never back. Returns whether it moved.

    A conditional UPDATE, so that concurrent marks from several devices cannot move it back.
    """
    id_field, at_field = _WATERMARK_FIELDS[kind]
    now = now or timezone.now()
    moved = (
        Membership.objects.filter(pk=membership.pk)
        .filter(Q(**{f"{id_field}__isnull": True}) | Q(**{f"{id_field}__lt": message_id}))
        .update(**{id_field: message_id, at_field: now})
    )
    if moved:
        setattr(membership, id_field, message_id)
        setattr(membership, at_field, now)
        ReceiptMark.objects.create(
            room_id=membership.room_id, user_id=membership.user_id, kind=kind, up_to_message_id=message_id, at=now
        )
        event = events.MESSAGE_READ if kind == ReceiptMark.Kind.READ else events.MESSAGE_DELIVERED
        events.notify_watermark(membership, event=event, message_id=message_id)
        if kind == ReceiptMark.Kind.READ:
            # What has been read has been delivered.
            _advance_watermark(membership=membership, kind=ReceiptMark.Kind.DELIVERED, message_id=message_id, now=now)
    return bool(moved)


def _message_id_in_room(*, membership: Membership, message_id: Any) -> int | None:
    if message_id is None:
        latest = Message.objects.filter(room_id=membership.room_id).order_by("-id").values_list("id", flat=True).first()
        return latest
    try:
        message_id = int(message_id)
    except (TypeError, ValueError):
        raise invalid_field("message_id", "Must be a message id.") from None
    if not Message.objects.filter(pk=message_id, room_id=membership.room_id).exists():
        raise invalid_field("message_id", "No such message in this room.")
    return message_id


@transaction.atomic
def room_mark_read(*, membership: Membership, message_id: int | None = None) -> int:
    """Mark the room read up to ``message_id`` (default: the latest); return the unread count left."""
    target = _message_id_in_room(membership=membership, message_id=message_id)
    moved = target is not None and _advance_watermark(
        membership=membership, kind=ReceiptMark.Kind.READ, message_id=target
    )
    previous = membership.unread_count
    unread = _recount_unread(membership)
    if moved or unread != previous:
        events.notify_unread(membership, unread_count=unread)
    return unread


@transaction.atomic
def room_mark_delivered(*, membership: Membership, message_id: int) -> bool:
    target = _message_id_in_room(membership=membership, message_id=message_id)
    if target is None:
        return False
    return _advance_watermark(membership=membership, kind=ReceiptMark.Kind.DELIVERED, message_id=target)


def membership_set_notification_level(*, membership: Membership, level: str) -> Membership:
    if level not in Membership.Notify.values:
        raise invalid_field("notification_level", f"One of: {', '.join(Membership.Notify.values)}.")
    membership.notification_level = level
    membership.save(update_fields=["notification_level"])
    return membership
