"""Writes of the calls app: the 1:1 call state machine, the only place its rules live.

``ringing → active → ended``; an ended call has an outcome: completed, missed (callee
offline), rejected, busy, unanswered (rang out), failed (a device lost mid-call) or canceled
(the caller hung up while it rang). Each transition locks the call row, so an accept racing a
ring timeout or a cancel has exactly one winner. Devices are sockets (channel names): the
callee's devices all ring, the first to accept wins, and signaling goes only to the two
devices in the call.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.models import Membership, Room
from fastsock.core import presence
from fastsock.core.errors import ApiError, ErrorCode, invalid_field
from fastsock.core.ratelimit import rate_limit_user

from . import events, selectors
from .models import Call, CallEvent

# Whoever ends up not talking was missed by the caller: the note counts as unread for them.
_MISSED = {Call.Outcome.MISSED, Call.Outcome.BUSY, Call.Outcome.UNANSWERED, Call.Outcome.CANCELED}


def device_label(device: str) -> str:
    """A short stable name for a socket in timelines (channel names are internal)."""
    return hashlib.sha256(device.encode()).hexdigest()[:8] if device else ""


def _event(call: Call, kind: str, user: User | None = None, **data: Any) -> None:
    CallEvent.objects.create(call=call, kind=kind, user=user, data=data)


def _lock(call: Call) -> Call:
    return Call.objects.select_for_update(of=("self",)).select_related("caller", "callee", "room").get(pk=call.pk)


def _lock_people(*user_ids: int) -> None:
    """Serialize call changes of these people (in id order: no deadlocks), so that two people
    calling each other at the same moment cannot both find the other free."""
    list(User.objects.select_for_update().filter(pk__in=user_ids).order_by("pk").values_list("pk", flat=True))


def _direct_room_and_callee(caller: User, room_id: Any, to_user_id: Any) -> tuple[Room, User]:
    if room_id is not None:
        membership = chat_selectors.membership_for(room_id=room_id, user=caller)
        if membership.room.kind != Room.Kind.DIRECT:
            raise invalid_field("room_id", "Calls to a group room are group calls (POST /api/v1/calls/group/…/join).")
        other = Membership.objects.filter(room=membership.room).exclude(user_id=caller.pk).select_related("user")
        peer = other.first()
        if peer is None:
            raise invalid_field("room_id", "Nobody else is in this room.")
        return membership.room, peer.user
    if to_user_id is None:
        raise invalid_field("room_id", "Give room_id (a direct room) or to_user_id.")
    if isinstance(to_user_id, bool) or not isinstance(to_user_id, int):
        raise invalid_field("to_user_id", "Must be a user id.")
    callee = User.objects.filter(pk=to_user_id, is_active=True).first()
    if callee is None or callee.pk == caller.pk or callee.pk not in chat_selectors.co_member_ids(caller.pk):
        raise ApiError(ErrorCode.FORBIDDEN, "You can call only people you share a room with.")
    room, _ = chat_services.direct_room_get_or_create(user=caller, other=callee)
    return room, callee


def _duration_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _post_note(call: Call) -> None:
    """The call in the conversation's timeline, as people see it there."""
    media = "video" if call.media == Call.Media.VIDEO else "voice"
    if call.outcome in _MISSED:
        chat_services.room_note_post(room=call.room, content=f"Missed {media} call", from_user=call.caller)
    elif call.outcome == Call.Outcome.REJECTED:
        chat_services.room_note_post(room=call.room, content=f"Declined {media} call")
    elif call.duration_seconds is not None:
        text = f"{media.capitalize()} call · {_duration_text(call.duration_seconds)}"
        chat_services.room_note_post(room=call.room, content=text)
    else:
        chat_services.room_note_post(room=call.room, content=f"{media.capitalize()} call failed")


def _end(call: Call, *, outcome: str, reason: str, by: User | None = None, announce: bool = True) -> Call:
    call.state = Call.State.ENDED
    call.outcome = outcome
    call.ended_at = timezone.now()
    call.end_reason = reason
    call.ended_by = by
    call.save(update_fields=["state", "outcome", "ended_at", "end_reason", "ended_by"])
    _event(call, "ended", by, outcome=outcome, reason=reason)
    _post_note(call)
    if announce:
        events.notify_ended(call)
    return call


@transaction.atomic
def call_invite(
    *, caller: User, device: str, room_id: Any = None, to_user_id: Any = None, media: Any = "video"
) -> Call:
    """Ring every device of the other person of a direct room; or record at once why not
    (busy, offline). Only people who share a room may call each other."""
    if media not in Call.Media.values:
        raise invalid_field("media", "Either audio or video.")
    rate_limit_user(user_id=caller.pk, action="calls.invite.user")
    room, callee = _direct_room_and_callee(caller, room_id, to_user_id)
    _lock_people(caller.pk, callee.pk)
    if selectors.live_call_of(user_id=caller.pk) is not None:
        raise ApiError(ErrorCode.CONFLICT, "You are already in a call.")
    call = Call.objects.create(
        room=room,
        kind=Call.Kind.DIRECT,
        media=media,
        caller=caller,
        callee=callee,
        caller_device=device,
        ring_deadline=timezone.now() + timedelta(seconds=settings.CALL_RING_TIMEOUT_SECONDS),
    )
    _event(call, "invited", caller, media=media, device=device_label(device))
    if selectors.live_call_of(user_id=callee.pk, exclude_id=call.pk) is not None:
        _end(call, outcome=Call.Outcome.BUSY, reason="callee in another call", announce=False)
        events.notify_refused(call, event=events.CALL_BUSY)
        return call
    devices = presence.live_sockets(user_id=callee.pk)
    if not devices:
        _end(call, outcome=Call.Outcome.MISSED, reason="callee offline", announce=False)
        events.notify_refused(call, event=events.CALL_OFFLINE)
        return call
    _event(call, "ringing", None, devices=len(devices))
    events.notify_incoming(call)
    events.notify_ringing(call, devices=len(devices))
    return call


@transaction.atomic
def call_accept(*, user: User, device: str, call_id: Any) -> Call:
    """The first of the callee's devices to accept takes the call; the others stop ringing."""
    call = _lock(selectors.call_for_party(call_id=call_id, user=user))
    if call.callee_id != user.pk:
        raise ApiError(ErrorCode.FORBIDDEN, "Only the person called can accept.")
    if call.state != Call.State.RINGING:
        raise ApiError(ErrorCode.CONFLICT, "This call is not ringing any more.", details={"state": [call.state]})
    call.state = Call.State.ACTIVE
    call.answered_at = timezone.now()
    call.callee_device = device
    call.save(update_fields=["state", "answered_at", "callee_device"])
    _event(call, "accepted", user, device=device_label(device))
    others = [socket for socket in presence.live_sockets(user_id=user.pk) if socket != device]
    events.notify_accepted(call, other_callee_devices=others)
    return call


@transaction.atomic
def call_reject(*, user: User, call_id: Any) -> Call:
    call = _lock(selectors.call_for_party(call_id=call_id, user=user))
    if call.callee_id != user.pk:
        raise ApiError(ErrorCode.FORBIDDEN, "Only the person called can decline; the caller hangs up.")
    if call.state != Call.State.RINGING:
        raise ApiError(ErrorCode.CONFLICT, "This call is not ringing any more.", details={"state": [call.state]})
    return _end(call, outcome=Call.Outcome.REJECTED, reason="declined", by=user)


@transaction.atomic
def call_hangup(*, user: User, call_id: Any) -> Call:
    """Either party ends the call: a caller while it rings cancels it, a callee while it rings
    declines it, anyone in an active call completes it. Hanging up an ended call is a no-op."""
    call = _lock(selectors.call_for_party(call_id=call_id, user=user))
    if call.state == Call.State.ENDED:
        return call
    if call.state == Call.State.RINGING:
        if user.pk == call.callee_id:
            return _end(call, outcome=Call.Outcome.REJECTED, reason="declined", by=user)
        return _end(call, outcome=Call.Outcome.CANCELED, reason="caller hung up", by=user)
    return _end(call, outcome=Call.Outcome.COMPLETED, reason="hung up", by=user)


def call_signal(*, user: User, device: str, call_id: Any, event: str, data: dict[str, Any]) -> None:
    """Relay an offer, answer or ICE candidate to the other party's device in the call.

    Only from the sender's own device in the call, only while it is active, only to the one
    device the other party is in the call with: nobody else ever sees SDP or candidates.
    """
    call = selectors.call_for_party(call_id=call_id, user=user)
    if call.state != Call.State.ACTIVE:
        raise ApiError(ErrorCode.CONFLICT, "This call is not active.", details={"state": [call.state]})
    mine, theirs = (
        (call.caller_device, call.callee_device)
        if user.pk == call.caller_id
        else (call.callee_device, call.caller_device)
    )
    if device != mine:
        raise ApiError(ErrorCode.FORBIDDEN, "This call is on another of your devices.")
    payload: dict[str, Any] = {"call_id": call.pk}
    if event in ("call.offer", "call.answer"):
        sdp = data.get("sdp")
        if not isinstance(sdp, str) or not sdp or len(sdp) > settings.CALL_MAX_SDP_BYTES:
            raise invalid_field("sdp", f"A session description of at most {settings.CALL_MAX_SDP_BYTES} bytes.")
        payload["sdp"] = sdp
        if event == "call.offer" and data.get("ice_restart") is True:
            payload["ice_restart"] = True
            _event(call, "ice_restart", user, device=device_label(device))
    else:
        candidate = data.get("candidate")
        if candidate is not None and not isinstance(candidate, dict):
            raise invalid_field("candidate", "An RTCIceCandidate as an object, or null when gathering is done.")
        payload["candidate"] = candidate
    events.relay_signal(to_device=theirs, event=events.SIGNALS[event], data=payload)


@transaction.atomic
def call_resume(*, user: User, device: str, call_id: Any) -> Call:
    """A party's device came back on a new socket: the call continues there (then an ICE
    restart from the client reconnects the media)."""
    call = _lock(selectors.call_for_party(call_id=call_id, user=user))
    if call.state == Call.State.ENDED:
        raise ApiError(ErrorCode.CONFLICT, "This call has ended.", details={"state": [call.state]})
    if user.pk == call.caller_id:
        call.caller_device, other = device, call.callee_device
    elif call.state == Call.State.ACTIVE:
        call.callee_device, other = device, call.caller_device
    else:
        raise ApiError(ErrorCode.CONFLICT, "Accept the call first.")
    call.save(update_fields=["caller_device", "callee_device"])
    _event(call, "resumed", user, device=device_label(device))
    events.notify_resumed(call, to_device=other)
    return call


@transaction.atomic
def call_ring_timeout(*, call_id: int) -> Call | None:
    """End a call nobody answered in time (called when its deadline passes; harmless after)."""
    call = Call.objects.filter(pk=call_id).first()
    if call is None:
        return None
    call = _lock(call)
    if call.state != Call.State.RINGING or call.ring_deadline is None or call.ring_deadline > timezone.now():
        return call
    return _end(call, outcome=Call.Outcome.UNANSWERED, reason="no answer")


@transaction.atomic
def call_device_lost(*, call_id: int, device: str) -> Call | None:
    """A party's socket closed and did not come back within the grace period: end the call
    (still bound to that socket, it cannot go on)."""
    call = Call.objects.filter(pk=call_id).first()
    if call is None:
        return None
    call = _lock(call)
    if call.state == Call.State.ENDED or device not in (call.caller_device, call.callee_device):
        return call
    lost = call.caller if device == call.caller_device else call.callee
    if call.state == Call.State.RINGING:
        return _end(call, outcome=Call.Outcome.CANCELED, reason="caller disconnected", by=lost)
    return _end(call, outcome=Call.Outcome.FAILED, reason="connection lost", by=lost)


def calls_sweep() -> int:
    """End what no process is looking after any more: calls that rang past their deadline, live
    calls whose device sockets are gone (their process died), and group-call seats whose token
    ran out. Returns how many direct calls ended."""
    from .group import group_calls_sweep

    group_calls_sweep()
    now = timezone.now()
    looked_at: list[int] = []
    for call_id in Call.objects.filter(state=Call.State.RINGING, ring_deadline__lte=now).values_list("pk", flat=True):
        call_ring_timeout(call_id=call_id)
        looked_at.append(call_id)
    grace = timedelta(seconds=settings.CALL_RECONNECT_GRACE_SECONDS)
    live = Call.objects.filter(kind=Call.Kind.DIRECT, created_at__lte=now - grace).exclude(state=Call.State.ENDED)
    for call in live:
        for user_id, device in ((call.caller_id, call.caller_device), (call.callee_id, call.callee_device)):
            if device and device not in presence.live_sockets(user_id=user_id):
                call_device_lost(call_id=call.pk, device=device)
                looked_at.append(call.pk)
                break
    return Call.objects.filter(pk__in=looked_at, state=Call.State.ENDED).count()
