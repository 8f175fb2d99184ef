"""Telecom voice: call flows with immutable versions, calls with their timeline and recordings.

A flow's definition is the small JSON language of telecom/flows.py. Each save of a definition
is a new version, kept for ever, so a call can always say which definition it ran and an
operator can roll back to any earlier one; one version per flow is the active one.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .sms import ApiKey, Connector, Project, new_sid


class CallFlow(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="call_flows")
    name = models.CharField(max_length=100)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    # The version new calls run. Set only through telecom.flow_services.call_flow_activate.
    active_version = models.ForeignKey(
        "CallFlowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="telecom_call_flow_name_once")]

    def __str__(self) -> str:
        return self.name


class ImmutableVersionError(Exception):
    """A flow version was saved again: versions never change, a new definition is a new version."""


class CallFlowVersion(models.Model):
    flow = models.ForeignKey(CallFlow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["flow", "-number"]
        constraints = [models.UniqueConstraint(fields=["flow", "number"], name="telecom_flow_version_once")]

    def __str__(self) -> str:
        return f"v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Calls point at versions and operators roll back to them: what ran must stay as it was.
        if not self._state.adding:
            raise ImmutableVersionError(f"Flow version {self.pk} is immutable; add a new version instead.")
        super().save(*args, **kwargs)


class VoiceCall(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RINGING = "ringing", "Ringing"
        IN_PROGRESS = "in-progress", "In progress"
        COMPLETED = "completed", "Completed"
        BUSY = "busy", "Busy"
        NO_ANSWER = "no-answer", "No answer"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    sid = models.CharField(max_length=34, unique=True, default=None)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="voice_calls")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    from_number = models.CharField(max_length=100)
    to_number = models.CharField(max_length=100)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    flow_version = models.ForeignKey(
        CallFlowVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    # What the call runs: its flow version's definition, or one given inline with the call. Kept
    # here too, so the call's record stays whole whatever happens to the flow.
    definition = models.JSONField(default=dict, blank=True)
    # The trunk that carried the call.
    connector = models.ForeignKey(Connector, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    channel_id = models.CharField(max_length=100, blank=True)
    hangup_cause = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Q.850 cause code")
    hangup_cause_text = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    status_callback = models.URLField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ringing_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(default=0)
    # Where the flow is (a FlowCursor's state, see telecom/flows.py) and what the step was
    # waiting for, so an orchestrator that restarts picks the call up where it was.
    orchestrator_state = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="telecom_call_project_created"),
            models.Index(fields=["status", "updated_at"], name="telecom_call_status_updated"),
        ]

    def __str__(self) -> str:
        return self.sid

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.sid:
            self.sid = new_sid("CA")
        super().save(*args, **kwargs)


class CallEvent(models.Model):
    """One entry of a call's timeline, numbered in order per call."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        RINGING = "ringing", "Ringing"
        ANSWERED = "answered", "Answered"
        STEP = "step", "Flow step"
        DIGITS = "digits", "Digits gathered"
        DIAL_ATTEMPT = "dial_attempt", "Dial attempt"
        RECORDING = "recording", "Recording"
        HANGUP = "hangup", "Hangup"
        STATUS = "status", "Status"
        ERROR = "error", "Error"

    call = models.ForeignKey(VoiceCall, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)
    # What makes an event the same event when it arrives again (an ARI event replayed after a
    # reconnect, say): such an event is recorded once per call. Blank: no deduplication.
    dedupe_key = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["call", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["call", "seq"], name="telecom_call_event_seq_once"),
            models.UniqueConstraint(
                fields=["call", "dedupe_key"], condition=~Q(dedupe_key=""), name="telecom_call_event_dedupe_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.call_id} #{self.seq} {self.kind}"


class CallRecording(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending (still on Asterisk)"
        STORED = "stored", "Stored"
        FAILED = "failed", "Failed"

    sid = models.CharField(max_length=34, unique=True, default=None)
    call = models.ForeignKey(VoiceCall, on_delete=models.CASCADE, related_name="recordings")
    name = models.CharField(max_length=200, unique=True, help_text="the recording's name on Asterisk (ARI)")
    format = models.CharField(max_length=10, default="wav")
    duration_seconds = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="recordings/%Y/%m/", blank=True, max_length=300)
    size_bytes = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["call", "created_at", "id"]

    def __str__(self) -> str:
        return self.sid

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.sid:
            self.sid = new_sid("RE")
        super().save(*args, **kwargs)
