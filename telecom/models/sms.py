"""Telecom: projects and their API keys, gateways (connectors), numbers, inbound routing, SMS
messages with their provider events, idempotency records, dead letters and daily usage.

Nothing secret is stored: API keys are kept as SHA-256 hashes (they are long random strings,
so a fast hash is enough), connectors hold the *names* of the environment variables with their
credentials, and a project's signing secret is derived from the server's key, not saved.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_sid(prefix: str) -> str:
    """Twilio-style resource ids: a two-letter prefix and 32 hex digits (34 characters)."""
    return prefix + secrets.token_hex(16)


class Project(models.Model):
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    # Rotating the signing secret of status callbacks bumps this; the secret is derived from it.
    signing_generation = models.PositiveIntegerField(default=1)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="ProjectMember", related_name="projects")

    def __str__(self) -> str:
        return self.name


class ProjectMember(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="telecom_one_membership_per_project")]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class ApiKey(models.Model):
    class Scope(models.TextChoices):
        MESSAGES = "messages", "Send and read messages"
        CALLS = "calls", "Place and read calls"
        FLOWS = "flows", "Manage call flows"
        USAGE = "usage", "Read usage"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    # The key's first characters, shown in lists and used to find the row; the rest is secret.
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Connector(models.Model):
    class Kind(models.TextChoices):
        JASMIN = "jasmin", "Jasmin (HTTP API)"
        KANNEL = "kannel", "Kannel (sendsms)"
        ASTERISK = "asterisk", "Asterisk (ARI trunk)"

    class CircuitOverride(models.TextChoices):
        AUTO = "auto", "Automatic (the breaker decides)"
        OPEN = "open", "Forced open (never used)"
        CLOSED = "closed", "Forced closed (always tried)"

    name = models.SlugField(max_length=50, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    base_url = models.URLField(max_length=300)
    # Names of environment variables, never their values.
    username_env = models.CharField(max_length=100, blank=True)
    password_env = models.CharField(max_length=100, blank=True)
    webhook_secret_env = models.CharField(max_length=100)
    allowed_networks = models.JSONField(default=list, blank=True, help_text="CIDRs webhooks may come from")
    priority = models.PositiveIntegerField(default=100, help_text="lower is tried first")
    throughput_per_second = models.PositiveIntegerField(default=0, help_text="0: no limit")
    max_segments = models.PositiveIntegerField(default=10, help_text="longest concatenated SMS the gateway takes")
    enabled = models.BooleanField(default=True)
    healthy = models.BooleanField(default=True)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    # An operator's word over the trunk's circuit breaker: take a trunk out, or keep it in.
    circuit_override = models.CharField(max_length=6, choices=CircuitOverride.choices, default=CircuitOverride.AUTO)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class PhoneNumber(models.Model):
    e164 = models.CharField(max_length=16, unique=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="numbers")
    connectors = models.ManyToManyField(Connector, related_name="numbers", blank=True)
    sms = models.BooleanField(default=True)
    mms = models.BooleanField(default=False)
    voice = models.BooleanField(default=False)
    # What an inbound call to the number runs: this flow's active version.
    voice_flow = models.ForeignKey(
        "telecom.CallFlow", null=True, blank=True, on_delete=models.SET_NULL, related_name="numbers"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.e164


class InboundRoute(models.Model):
    """Where inbound SMS go: by the number they were sent to, a prefix of the sender, a keyword."""

    class Match(models.TextChoices):
        NUMBER = "number", "Sent to this number"
        PREFIX = "prefix", "Sender starts with"
        KEYWORD = "keyword", "First word is"
        SENDER = "sender", "Sent by this number"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="inbound_routes")
    match = models.CharField(max_length=8, choices=Match.choices)
    pattern = models.CharField(max_length=64)
    target_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    target_room = models.ForeignKey("chat.Room", null=True, blank=True, on_delete=models.CASCADE)
    priority = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(target_user__isnull=False) | Q(target_room__isnull=False), name="telecom_route_has_a_target"
            )
        ]

    def __str__(self) -> str:
        return f"{self.match} {self.pattern}"


class SmsMessage(models.Model):
    class Direction(models.TextChoices):
        OUTBOUND_API = "outbound-api", "Outbound (API)"
        OUTBOUND_REPLY = "outbound-reply", "Outbound (reply from chat)"
        INBOUND = "inbound", "Inbound"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        UNDELIVERED = "undelivered", "Undelivered"
        FAILED = "failed", "Failed"
        RECEIVED = "received", "Received"

    sid = models.CharField(max_length=34, unique=True, default=None)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="messages")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    direction = models.CharField(max_length=16, choices=Direction.choices)
    from_number = models.CharField(max_length=16)
    to_number = models.CharField(max_length=16)
    body = models.TextField(blank=True)
    media_urls = models.JSONField(default=list, blank=True)
    encoding = models.CharField(max_length=6, default="GSM-7")
    segments = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    status_callback = models.URLField(max_length=500, blank=True)
    connector = models.ForeignKey(Connector, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    provider_message_id = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    room = models.ForeignKey("chat.Room", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The chat message this SMS is (inbound) or was written as (a reply from the chat).
    chat_message = models.OneToOneField(
        "chat.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="sms"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="telecom_sms_project_created"),
            models.Index(fields=["connector", "provider_message_id"], name="telecom_sms_provider_id"),
            models.Index(fields=["status", "next_attempt_at"], name="telecom_sms_status_due"),
        ]

    def __str__(self) -> str:
        return self.sid

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if not self.sid:
            self.sid = new_sid("MM" if self.media_urls else "SM")
        super().save(*args, **kwargs)


class SmsConversation(models.Model):
    """One phone conversation (a project's number and someone's phone) and the chat room it
    lives in: inbound SMS appear there, and what members write there goes back as SMS."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="conversations")
    our_number = models.CharField(max_length=16)
    their_number = models.CharField(max_length=16)
    room = models.ForeignKey("chat.Room", on_delete=models.CASCADE, related_name="sms_conversations")
    # Stands for the phone in the chat (the sender of its messages); it cannot log in.
    contact = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "our_number", "their_number"], name="telecom_one_conversation_per_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.their_number} ↔ {self.our_number}"


class ProviderEvent(models.Model):
    """A gateway's report (delivery report, inbound message), stored once per provider id."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=8)  # dlr | mo
    provider_event_id = models.CharField(max_length=200)
    message = models.ForeignKey(SmsMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    status = models.CharField(max_length=20, blank=True)
    raw = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "kind", "provider_event_id"], name="telecom_provider_event_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.provider_event_id}"


class IdempotencyRecord(models.Model):
    """Stripe semantics: the same key and body get the first response; another body is a 409."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "key", "method", "path"], name="telecom_idempotency_once")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.key}"


class DeadLetter(models.Model):
    message = models.ForeignKey(SmsMessage, on_delete=models.CASCADE, related_name="dead_letters")
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    replayed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.message_id}: {self.reason}"


class UsageDaily(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField()
    sms_segments_out = models.PositiveIntegerField(default=0)
    sms_segments_in = models.PositiveIntegerField(default=0)
    mms_out = models.PositiveIntegerField(default=0)
    mms_in = models.PositiveIntegerField(default=0)
    call_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "day"], name="telecom_usage_once_per_day")]

    def __str__(self) -> str:
        return f"{self.project_id} {self.day}"
