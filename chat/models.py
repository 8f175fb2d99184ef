from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Room(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", "Direct"
        GROUP = "group", "Group"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    avatar = models.ImageField(upload_to="room-avatars/%Y/%m/", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "<smaller user id>:<larger user id>" for direct rooms: the unique index makes
    # "exactly one direct room per pair" hold even when two requests race.
    direct_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Denormalised so that the room list sorts by activity and shows the last message cheaply.
    last_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    last_activity_at = models.DateTimeField(auto_now_add=True, db_index=True)

    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="rooms")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="group", direct_key__isnull=True) | Q(kind="direct", direct_key__isnull=False),
                name="chat_room_direct_key_iff_direct",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.get_kind_display()} room {self.pk}"


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    class Notify(models.TextChoices):
        ALL = "all", "All messages"
        MENTIONS = "mentions", "Mentions only"
        NONE = "none", "Nothing"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    notification_level = models.CharField(max_length=8, choices=Notify.choices, default=Notify.ALL)
    joined_at = models.DateTimeField(auto_now_add=True)
    # Watermarks: the member has read / received every message up to these ids. They only grow.
    last_read_message_id = models.BigIntegerField(null=True, blank=True)
    last_read_at = models.DateTimeField(null=True, blank=True)
    last_delivered_message_id = models.BigIntegerField(null=True, blank=True)
    last_delivered_at = models.DateTimeField(null=True, blank=True)
    # The member's unread count, kept exact by chat.services: +1 for each message from someone
    # else, -1 when an unread one is deleted, recounted by the rule (selectors.unread_messages)
    # whenever the read watermark moves. Sends then need no count over the room's messages.
    unread_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="chat_membership_room_user_unique"),
        ]
        indexes = [models.Index(fields=["user", "room"], name="chat_membership_user_room")]

    def __str__(self) -> str:
        return f"{self.user} in {self.room} ({self.role})"

    @property
    def is_admin(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class Attachment(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        FILE = "file", "File"

    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="attachments/%Y/%m/", max_length=255)
    original_name = models.CharField(max_length=255)
    # Decided by sniffing the bytes, never by the name or the client's header.
    content_type = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    thumbnail = models.ImageField(upload_to="thumbnails/%Y/%m/", blank=True, max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.original_name} ({self.content_type}, {self.size} bytes)"


class Message(models.Model):
    class Type(models.TextChoices):
        TEXT = "text", "Text"
        IMAGE = "image", "Image"
        FILE = "file", "File"
        SYSTEM = "system", "System"
        SMS = "sms", "SMS"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    # Null for system messages.
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    type = models.CharField(max_length=8, choices=Type.choices, default=Type.TEXT)
    content = models.TextField(blank=True)
    attachment = models.ForeignKey(
        Attachment, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    # Chosen by the sending client: a resend with the same id returns the first message.
    client_id = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    # Soft delete: the row stays as a tombstone so that history keeps its shape.
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "client_id"],
                condition=Q(client_id__isnull=False),
                name="chat_message_sender_client_id_unique",
            ),
        ]
        indexes = [
            # History pages: WHERE room_id = ? AND id < ? ORDER BY id DESC LIMIT n.
            models.Index(fields=["room", "id"], name="chat_message_room_id"),
            # Unread counts: live messages after the watermark, own messages excluded, index-only.
            models.Index(
                fields=["room", "id", "sender"],
                condition=Q(deleted_at__isnull=True),
                name="chat_message_room_live",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sender or 'system'} in room {self.room_id}: {self.content[:40]}"

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


class MessageEdit(models.Model):
    """One earlier version of an edited message (the current text lives on the message)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="edits")
    previous_content = models.TextField()
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    edited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["edited_at", "id"]

    def __str__(self) -> str:
        return f"edit of message {self.message_id} at {self.edited_at}"


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reactions")
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user", "emoji"], name="chat_reaction_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on message {self.message_id}"


class ReceiptMark(models.Model):
    """A member's read or delivered watermark moved up to ``up_to_message_id`` at ``at``.

    Receipts for a message are derived from these marks: the first mark at or past the
    message says when that member received or read it.
    """

    class Kind(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    up_to_message_id = models.BigIntegerField()
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["room", "kind", "up_to_message_id"], name="chat_receipt_room_kind_upto"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.user_id} up to {self.up_to_message_id}"
