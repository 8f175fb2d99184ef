"""The calls app's realtime events: names, payloads and who receives them.

Call signaling is ephemeral (a ring or an SDP is worth nothing a minute later): what concerns
a person goes to all their devices (``user.<id>`` groups); what concerns the device in the
call (SDP, ICE, "answered elsewhere") goes to that one socket by its channel name. Everything
is sent after commit, and only ever to the call's two parties.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from chat.payloads import iso, user_summary
from fastsock.core.realtime import publish_ephemeral, publish_to_socket

from .models import Call, CallEvent

# Server → client
CALL_INCOMING = "call.incoming"  # to the callee's devices: ring
CALL_RINGING = "call.ringing"  # to the caller's device: the callee's devices ring
CALL_ACCEPTED = "call.accepted"  # to the caller's device, and to the device that accepted
CALL_ANSWERED_ELSEWHERE = "call.answered_elsewhere"  # to the callee's other devices: stop ringing
CALL_BUSY = "call.busy"  # to the caller: the callee is in another call
CALL_OFFLINE = "call.offline"  # to the caller: the callee has no open socket (a missed call)
CALL_ENDED = "call.ended"  # to both parties' devices: rejected, canceled, unanswered, hung up, failed
CALL_RESUMED = "call.resumed"  # to the other party's device: its peer is back on a new socket
CALL_OFFER = "call.offer"
CALL_ANSWER = "call.answer"
CALL_ICE = "call.ice"
# Client → server events handled by calls/consumers.py.
CLIENT_EVENTS = (
    "call.invite", "call.accept", "call.reject", "call.hangup", "call.offer", "call.answer", "call.ice",
    "call.resume",
)  # fmt: skip
SIGNALS = {"call.offer": CALL_OFFER, "call.answer": CALL_ANSWER, "call.ice": CALL_ICE}


def call_payload(call: Call, *, timeline: list[CallEvent] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": call.pk,
        "room_id": call.room_id,
        "kind": call.kind,
        "media": call.media,
        "state": call.state,
        "outcome": call.outcome or None,
        "caller": user_summary(call.caller),
        "callee": user_summary(call.callee) if call.callee_id else None,
        "created_at": iso(call.created_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "duration_seconds": call.duration_seconds,
        "end_reason": call.end_reason or None,
    }
    if timeline is not None:
        payload["timeline"] = [
            {"at": iso(event.at), "kind": event.kind, "user_id": event.user_id, "data": event.data}
            for event in timeline
        ]
    return payload


def _to_users(user_ids: Iterable[int], event: str, data: dict[str, Any]) -> None:
    ids = sorted(set(user_ids))
    transaction.on_commit(lambda: publish_ephemeral(ids, event, data), robust=True)


def _to_device(device: str, event: str, data: dict[str, Any]) -> None:
    if device:
        transaction.on_commit(lambda: publish_to_socket(device, event, data), robust=True)


def notify_incoming(call: Call) -> None:
    _to_users([call.callee_id], CALL_INCOMING, {"call": call_payload(call)})


def notify_ringing(call: Call, *, devices: int) -> None:
    _to_device(call.caller_device, CALL_RINGING, {"call": call_payload(call), "devices": devices})


def notify_accepted(call: Call, *, other_callee_devices: list[str]) -> None:
    data = {"call": call_payload(call)}
    _to_device(call.caller_device, CALL_ACCEPTED, data)
    _to_device(call.callee_device, CALL_ACCEPTED, data)
    for device in other_callee_devices:
        _to_device(device, CALL_ANSWERED_ELSEWHERE, {"call_id": call.pk})


def notify_refused(call: Call, *, event: str) -> None:
    """``call.busy`` / ``call.offline`` to the caller's device, right after the invite."""
    _to_device(call.caller_device, event, {"call": call_payload(call)})


def notify_ended(call: Call) -> None:
    """Every device of both parties: the ringing ones stop, the one in the call hangs up."""
    _to_users([call.caller_id, call.callee_id], CALL_ENDED, {"call": call_payload(call)})


def notify_resumed(call: Call, *, to_device: str) -> None:
    _to_device(to_device, CALL_RESUMED, {"call_id": call.pk})


def relay_signal(*, to_device: str, event: str, data: dict[str, Any]) -> None:
    """An SDP or ICE candidate, to the other party's device in the call and nowhere else."""
    publish_to_socket(to_device, event, data)
