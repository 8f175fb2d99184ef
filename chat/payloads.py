"""JSON shapes of chat objects, shared by the REST API and (later) WebSocket events.

Plain functions rather than DRF serializers: history pages and room lists are hot paths,
and each shape must be identical over REST and WebSocket (CONTRACT.md "A message").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from accounts.models import User
from fastsock.core import presence

from .models import Attachment, Membership, Message, Room

REPLY_EXCERPT_LENGTH = 200


def iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def avatar_url(path: str, image: Any) -> str | None:
    """An access-checked avatar URL whose ``v`` changes with the file, so caches never go stale."""
    if not image:
        return None
    return f"{path}?v={hashlib.sha256(image.name.encode()).hexdigest()[:12]}"


def user_summary(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "display_name": user.name}


def attachment_payload(attachment: Attachment | None) -> dict[str, Any] | None:
    """Links go through the access-checked download views, never to a storage path."""
    if attachment is None:
        return None
    return {
        "id": attachment.pk,
        "url": f"/api/v1/attachments/{attachment.pk}",
        "thumbnail_url": f"/api/v1/attachments/{attachment.pk}/thumbnail" if attachment.thumbnail else None,
        "name": attachment.original_name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "kind": attachment.kind,
        "width": attachment.width,
        "height": attachment.height,
    }


def reply_payload(message: Message | None) -> dict[str, Any] | None:
    if message is None:
        return None
    deleted = message.deleted_at is not None
    return {
        "id": message.pk,
        "sender": user_summary(message.sender),
        "content": "" if deleted else message.content[:REPLY_EXCERPT_LENGTH],
        "deleted": deleted,
    }


def message_payload(message: Message, *, reactions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A message as CONTRACT.md defines it; a deleted message is a tombstone with no content."""
    deleted = message.deleted_at is not None
    return {
        "id": message.pk,
        "room_id": message.room_id,
        "sender": user_summary(message.sender),
        "type": message.type,
        "content": "" if deleted else message.content,
        "attachment": None if deleted else attachment_payload(message.attachment),
        "reply_to": reply_payload(message.reply_to) if message.reply_to_id else None,
        "client_id": message.client_id,
        "created_at": iso(message.created_at),
        "edited_at": iso(message.edited_at),
        "deleted": deleted,
        "reactions": [] if deleted else (reactions or []),
    }


def room_payload(
    room: Room,
    *,
    membership: Membership | None = None,
    unread_count: int | None = None,
    peer: User | None = None,
    last_message: Message | None = None,
) -> dict[str, Any]:
    """A room from one member's point of view (its title, their role and unread count)."""
    title = room.name if room.kind == Room.Kind.GROUP else (peer.name if peer else "Direct message")
    payload: dict[str, Any] = {
        "id": room.pk,
        "kind": room.kind,
        "name": room.name,
        "title": title,
        "avatar_url": avatar_url(f"/api/v1/rooms/{room.pk}/avatar", room.avatar),
        "created_at": iso(room.created_at),
        "last_activity_at": iso(room.last_activity_at),
        "last_message": message_payload(last_message) if last_message is not None else None,
        "peer": user_summary(peer),
    }
    if membership is not None:
        payload["role"] = membership.role
        payload["notification_level"] = membership.notification_level
        payload["last_read_message_id"] = membership.last_read_message_id
    if unread_count is not None:
        payload["unread_count"] = unread_count
    return payload


def members_with_presence(memberships: Iterable[Membership]) -> list[dict[str, Any]]:
    """Members as one of them sees them: sharing the room, they may see who is online."""
    memberships = list(memberships)
    online = presence.online_user_ids(user_ids=[m.user_id for m in memberships])
    return [member_payload(m, online=m.user_id in online) for m in memberships]


def member_payload(membership: Membership, *, online: bool | None = None) -> dict[str, Any]:
    """A member with their role and read/delivered watermarks (clients draw ticks and "Seen by"
    from them); with ``online`` given, also their presence."""
    user = membership.user
    payload = {
        **(user_summary(user) or {}),
        "role": membership.role,
        "joined_at": iso(membership.joined_at),
        "avatar_url": avatar_url(f"/api/v1/users/{user.pk}/avatar", user.avatar),
        "last_read_message_id": membership.last_read_message_id,
        "last_delivered_message_id": membership.last_delivered_message_id,
    }
    if online is not None:
        payload["online"] = online
        payload["last_seen"] = iso(user.last_seen)
    return payload
