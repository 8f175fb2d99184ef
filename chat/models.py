from __future__ import annotations

from django.conf import settings
from django.db import models


class Room(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", "Direct"
        GROUP = "group", "Group"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "<smaller user id>:<larger user id>" for direct rooms: the unique index makes
    # "exactly one direct room per pair" hold even when two requests race.
    direct_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="rooms")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="group", direct_key__isnull=True)
                | models.Q(kind="direct", direct_key__isnull=False),
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

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)
    last_read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="chat_membership_room_user_unique"),
        ]
        indexes = [models.Index(fields=["user", "room"], name="chat_membership_user_room")]

    def __str__(self) -> str:
        return f"{self.user} in {self.room} ({self.role})"
