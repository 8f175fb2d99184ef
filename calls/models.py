"""Calls: who called whom (or which room), how it went, and the timeline of what happened.

A direct call goes ``ringing → active → ended``; a group call (through the SFU) is ``active``
from its start until it ends. ``outcome`` says how an ended call went. Media never passes
through FastSock: it keeps the record and relays signaling.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from chat.models import Room


class Call(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", "Direct"
        GROUP = "group", "Group"

    class Media(models.TextChoices):
        AUDIO = "audio", "Audio"
        VIDEO = "video", "Video"

    class State(models.TextChoices):
        RINGING = "ringing", "Ringing"
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    class Outcome(models.TextChoices):
        COMPLETED = "completed", "Completed"
        MISSED = "missed", "Missed (callee offline)"
        REJECTED = "rejected", "Rejected"
        BUSY = "busy", "Busy"
        UNANSWERED = "unanswered", "Unanswered (rang out)"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled by the caller"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="calls")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.DIRECT)
    media = models.CharField(max_length=8, choices=Media.choices, default=Media.VIDEO)
    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calls_made")
    callee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="calls_received"
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.RINGING)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ring_deadline = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    end_reason = models.CharField(max_length=64, blank=True)
    # The device (socket) of each party that signaling is relayed to; the callee's is set by
    # the device that accepted. A reconnecting device takes its party's place again.
    caller_device = models.CharField(max_length=200, blank=True)
    callee_device = models.CharField(max_length=200, blank=True)
    # Group calls: the SFU room behind this call.
    sfu_room_id = models.BigIntegerField(null=True, blank=True)
    sfu_room_secret = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["room"],
                condition=Q(kind="group") & ~Q(state="ended"),
                name="calls_one_live_group_call_per_room",
            ),
        ]
        indexes = [
            models.Index(fields=["room", "-created_at"], name="calls_call_room_created"),
            models.Index(fields=["caller", "state"], name="calls_call_caller_state"),
            models.Index(fields=["callee", "state"], name="calls_call_callee_state"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.media} call {self.pk} ({self.state})"

    @property
    def duration_seconds(self) -> int | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return max(0, int((self.ended_at - self.answered_at).total_seconds()))


class CallEvent(models.Model):
    """One step of a call's timeline: invited, ringing on N devices, accepted on a device, …"""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=32)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%H:%M:%S}"


class CallParticipant(models.Model):
    """A member in a group call, with the short-lived SFU token that lets them in."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sfu_token = models.CharField(max_length=200, blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField(auto_now_add=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["call", "user"], condition=Q(left_at__isnull=True), name="calls_one_live_seat_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} in call {self.call_id}"
