"""Telecom models: SMS (projects, keys, connectors, numbers, messages…) and voice (call flows,
calls, their events and recordings). Everything is re-exported here, so ``telecom.models.X``
works whichever module defines it."""

from .sms import (
    ApiKey,
    Connector,
    DeadLetter,
    IdempotencyRecord,
    InboundRoute,
    PhoneNumber,
    Project,
    ProjectMember,
    ProviderEvent,
    SmsConversation,
    SmsMessage,
    UsageDaily,
    new_sid,
)
from .voice import CallEvent, CallFlow, CallFlowVersion, CallRecording, ImmutableVersionError, VoiceCall

__all__ = [
    "ApiKey",
    "CallEvent",
    "CallFlow",
    "CallFlowVersion",
    "CallRecording",
    "Connector",
    "DeadLetter",
    "IdempotencyRecord",
    "ImmutableVersionError",
    "InboundRoute",
    "PhoneNumber",
    "Project",
    "ProjectMember",
    "ProviderEvent",
    "SmsConversation",
    "SmsMessage",
    "UsageDaily",
    "VoiceCall",
    "new_sid",
]
