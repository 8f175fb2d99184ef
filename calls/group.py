"""Group calls through Janus: FastSock decides who is in a room's call and lets them into the SFU.

A room has at most one live group call (``Call.kind`` group, ``state`` active; a unique
constraint). The first member to join starts it: FastSock creates a Janus VideoRoom room with a
random id, a random ``secret`` (kept on the call, never sent to clients) and a pin derived from
it. Every member who joins takes a seat (``CallParticipant``) with a random token that Janus
accepts (``add_token``, VideoRoom only) and that the room's allowed list names, valid for
``JANUS_TOKEN_TTL`` seconds: joining again before then keeps the same token and extends it. The
token is revoked when its holder leaves, is removed from the chat room, lets it expire
(:func:`group_calls_sweep`) or the call ends. When the last seat empties, the call ends
(outcome completed) and its Janus room is destroyed.

Room members see durable ``call.started``, ``call.joined``, ``call.left`` and ``call.ended``
events, appended in the transaction that made the change. Janus is only called outside
transactions (before one for what a join needs, after commit for revocations and destroys), so no
row lock waits on the network; what a failed join prepared in Janus is undone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.signals import post_delete, pre_delete
from django.utils import timezone

from accounts.models import User
from chat.models import Membership, Room
from chat.payloads import iso, user_summary
from chat.selectors import member_ids, membership_for
from fastsock.core.errors import ApiError, ErrorCode
from fastsock.core.streams import stream_append

from . import janus
from .models import Call, CallEvent, CallParticipant

logger = structlog.get_logger(__name__)

# Durable events to the room's members (server → client).
CALL_STARTED = "call.started"
CALL_JOINED = "call.joined"
CALL_LEFT = "call.left"
CALL_ENDED = "call.ended"

# Why a seat emptied (``call.left`` ``reason``) and why a call ended (``call.end_reason``).
LEFT = "left"
REMOVED = "removed"
EXPIRED = "expired"
ENDED_EMPTY = "empty"
ENDED_SFU_LOST = "sfu_lost"

# Janus room ids go to browsers as JSON numbers: stay within what JavaScript holds exactly.
_MAX_SFU_ROOM_ID = 2**53 - 1
_JOIN_ATTEMPTS = 4
UNAVAILABLE_MESSAGE = "Group calls are unavailable right now; try again shortly."


@dataclass(frozen=True)
class GroupCallSeat:
    """What a member needs to enter the call's Janus room."""

    call: Call
    participant: CallParticipant
    started: bool  # this join started the call

    @property
    def sfu_pin(self) -> str:
        return sfu_room_pin(self.call)


# --- Payloads ---------------------------------------------------------------------------------


def group_call_payload(call: Call, *, participant_ids: list[int] | None = None) -> dict[str, Any]:
    """The call as room members see it: the fields of a direct call's payload plus who is in it."""
    if participant_ids is None:
        participant_ids = live_participant_ids(call)
    return {
        "id": call.pk,
        "room_id": call.room_id,
        "kind": call.kind,
        "media": call.media,
        "state": call.state,
        "outcome": call.outcome or None,
        "caller": user_summary(call.caller),
        "callee": None,
        "created_at": iso(call.created_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "duration_seconds": call.duration_seconds,
        "end_reason": call.end_reason or None,
        "participant_ids": participant_ids,
    }


def live_participant_ids(call: Call) -> list[int]:
    seats = CallParticipant.objects.filter(call=call, left_at__isnull=True).order_by("joined_at", "id")
    return list(seats.values_list("user_id", flat=True))


def sfu_room_pin(call: Call) -> str:
    """The Janus room's pin, derived from its secret: members get it, the secret stays here."""
    return hmac.new(call.sfu_room_secret.encode(), b"fastsock-videoroom-pin", hashlib.sha256).hexdigest()[:32]


def _notify(call: Call, event: str, **extra: Any) -> None:
    """Append ``event`` for every member of the call's room (who they are now, in this transaction)."""
    data = {"call": group_call_payload(call), **extra}
    stream_append(user_ids=member_ids(room_id=call.room_id), event=event, data=data)


# --- Joining ----------------------------------------------------------------------------------


def group_call_join(*, user: User, room_id: Any) -> GroupCallSeat:
    """Seat ``user`` in the room's live group call, starting one if there is none.

    Members only (404 otherwise, by ``membership_for``). Returns the seat with a token Janus
    accepts until it expires (``token_expires_at``) or is revoked. A member already seated keeps
    their token with a new expiry (how a client renews it) and no events are sent again.
    Raises a 503 ``ApiError`` when Janus is not configured or does not answer.
    """
    membership = membership_for(room_id=room_id, user=user)
    room = membership.room
    client = _client()
    seated = _live_seat(room_id=room.pk, user_id=user.pk)
    token = seated.sfu_token if seated is not None else secrets.token_urlsafe(32)
    # Registering an already registered token is harmless, and restores it for a Janus that restarted.
    _janus_or_503(client.add_token, token)
    prepared: tuple[int, str] | None = None
    allowed_in: int | None = None  # the Janus room whose allowed list names the token
    seat: GroupCallSeat | None = None
    try:
        for _attempt in range(_JOIN_ATTEMPTS):
            call = _live_call(room_id=room.pk)
            if call is not None and not _sfu_room_alive(client, call):
                group_call_end(call=call, reason=ENDED_SFU_LOST)
                call = None
            if call is None and prepared is None:
                prepared = _sfu_room_prepare(client, room=room, token=token)
            elif call is not None and allowed_in != call.sfu_room_id:
                _janus_or_503(client.room_allow, room=call.sfu_room_id, secret=call.sfu_room_secret, tokens=[token])
                allowed_in = call.sfu_room_id
            seat = _seat_take(room=room, user=user, token=token, prepared=prepared, allowed_in=allowed_in)
            if seat is not None:
                break
        if seat is None:
            raise ApiError(ErrorCode.CONFLICT, "The call changed while joining; try again.")
    except BaseException:
        if seated is None:
            _quietly(client.remove_token, token)
        if prepared is not None:
            _quietly(lambda: client.room_destroy(room=prepared[0], secret=prepared[1]))
        raise
    if prepared is not None and not seat.started:
        # Another member's join started the call first: this room is not needed.
        _quietly(lambda: client.room_destroy(room=prepared[0], secret=prepared[1]))
    if seat.participant.sfu_token != token:
        # A concurrent join of the same member took the seat with its own token.
        _quietly(client.remove_token, token)
    return seat


def _seat_take(
    *, room: Room, user: User, token: str, prepared: tuple[int, str] | None, allowed_in: int | None
) -> GroupCallSeat | None:
    """In one transaction: the live call (started in the ``prepared`` Janus room if there is
    none) and the member's seat in it. ``None`` when the join must go round again: there is no
    live call and nothing prepared, the live call's Janus room does not allow the token yet
    (``allowed_in``), or another join inserted the call or this member's seat first."""
    now = timezone.now()
    expires_at = now + timedelta(seconds=settings.JANUS_TOKEN_TTL)
    try:
        with transaction.atomic():
            call = _live_call(room_id=room.pk, lock=True)
            if call is None:
                if prepared is None:
                    return None
                call = Call.objects.create(
                    room=room,
                    kind=Call.Kind.GROUP,
                    state=Call.State.ACTIVE,
                    caller=user,
                    answered_at=now,
                    sfu_room_id=prepared[0],
                    sfu_room_secret=prepared[1],
                )
                CallEvent.objects.create(call=call, kind="started", user=user)
                _notify(call, CALL_STARTED)
                return _seat_in(call, user, token, expires_at, started=True)
            if call.sfu_room_id != allowed_in:
                return None
            return _seat_in(call, user, token, expires_at)
    except IntegrityError:
        return None


def _seat_in(call: Call, user: User, token: str, expires_at: datetime, *, started: bool = False) -> GroupCallSeat:
    """Seat ``user`` in ``call`` (caller holds the call's row lock), or renew the seat they have."""
    participant = CallParticipant.objects.filter(call=call, user=user, left_at__isnull=True).first()
    if participant is not None:
        participant.token_expires_at = expires_at
        participant.save(update_fields=["token_expires_at"])
        return GroupCallSeat(call=call, participant=participant, started=started)
    participant = CallParticipant.objects.create(call=call, user=user, sfu_token=token, token_expires_at=expires_at)
    CallEvent.objects.create(call=call, kind="joined", user=user)
    _notify(call, CALL_JOINED, user_id=user.pk)
    return GroupCallSeat(call=call, participant=participant, started=started)


def _sfu_room_prepare(client: janus.JanusClient, *, room: Room, token: str) -> tuple[int, str]:
    """Create a Janus room for a call about to start; its token may publish there."""
    for _attempt in range(3):
        sfu_room_id = secrets.randbelow(_MAX_SFU_ROOM_ID) + 1
        secret = secrets.token_urlsafe(32)
        pin = sfu_room_pin(Call(sfu_room_secret=secret))
        try:
            client.room_create(
                room=sfu_room_id,
                secret=secret,
                pin=pin,
                publishers=settings.JANUS_MAX_PUBLISHERS,
                allowed=[token],
                description=f"FastSock room {room.pk}",
            )
        except janus.JanusRequestError as error:
            if error.code == janus.VIDEOROOM_ROOM_EXISTS:
                continue  # a random id already taken: draw another
            raise _unavailable(error) from None
        except janus.JanusError as error:
            raise _unavailable(error) from None
        return sfu_room_id, secret
    raise ApiError(ErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE)


def _sfu_room_alive(client: janus.JanusClient, call: Call) -> bool:
    """Whether Janus still has the call's room (it forgets them all when it restarts)."""
    if call.sfu_room_id is None:
        return False
    return bool(_janus_or_503(client.room_exists, call.sfu_room_id))


# --- Leaving and ending -----------------------------------------------------------------------


def group_call_leave(*, user: User, room_id: Any) -> None:
    """Take ``user``'s seat in the room's live group call and revoke its token; the last seat
    to empty ends the call. Members only (404); leaving a call one is not in does nothing."""
    membership = membership_for(room_id=room_id, user=user)
    with transaction.atomic():
        call = _live_call(room_id=membership.room_id, lock=True)
        if call is None:
            return
        participant = CallParticipant.objects.filter(call=call, user=user, left_at__isnull=True).first()
        if participant is None:
            return
        _seat_close(call, participant, reason=LEFT)


def group_call_end(*, call: Call, reason: str = "ended", ended_by: User | None = None) -> None:
    """End a live group call: every seat empties, every token is revoked, the Janus room is
    destroyed (both after commit) and members get ``call.ended``. Ending an ended call does nothing."""
    with transaction.atomic():
        locked = Call.objects.select_for_update().filter(pk=call.pk).first()
        if locked is None or locked.state == Call.State.ENDED:
            return
        seats = list(CallParticipant.objects.filter(call=locked, left_at__isnull=True))
        CallParticipant.objects.filter(pk__in=[seat.pk for seat in seats]).update(left_at=timezone.now())
        _revoke_on_commit([seat.sfu_token for seat in seats])
        _call_close(locked, reason=reason, ended_by=ended_by)
    call.refresh_from_db()


def _seat_close(call: Call, participant: CallParticipant, *, reason: str) -> None:
    """Empty a seat (caller holds the call's row lock, in a transaction); the last one ends the call."""
    participant.left_at = timezone.now()
    participant.save(update_fields=["left_at"])
    _revoke_on_commit([participant.sfu_token], call=call)
    CallEvent.objects.create(call=call, kind="left", user_id=participant.user_id, data={"reason": reason})
    _notify(call, CALL_LEFT, user_id=participant.user_id, reason=reason)
    if not CallParticipant.objects.filter(call=call, left_at__isnull=True).exists():
        _call_close(call, reason=ENDED_EMPTY)


def _call_close(call: Call, *, reason: str, ended_by: User | None = None) -> None:
    """Mark the call ended (caller holds its row lock) and destroy its Janus room after commit."""
    call.state = Call.State.ENDED
    call.outcome = Call.Outcome.COMPLETED
    call.ended_at = timezone.now()
    call.end_reason = reason
    call.ended_by = ended_by
    call.save(update_fields=["state", "outcome", "ended_at", "end_reason", "ended_by"])
    CallEvent.objects.create(call=call, kind="ended", user=ended_by, data={"reason": reason})
    _notify(call, CALL_ENDED)
    if call.sfu_room_id is not None:
        sfu_room_id, secret = call.sfu_room_id, call.sfu_room_secret
        transaction.on_commit(lambda: _sfu_room_destroy(sfu_room_id, secret))


def _sfu_room_destroy(sfu_room_id: int, secret: str) -> None:
    client = _client_or_none()
    if client is not None:
        _quietly(lambda: client.room_destroy(room=sfu_room_id, secret=secret))


def _revoke_on_commit(tokens: list[str], *, call: Call | None = None) -> None:
    """Revoke the tokens in Janus once the transaction commits (and take them off the room's
    allowed list, when the room stays)."""
    tokens = [token for token in tokens if token]
    if not tokens:
        return
    room = (call.sfu_room_id, call.sfu_room_secret) if call is not None and call.sfu_room_id else None

    def revoke() -> None:
        client = _client_or_none()
        if client is None:
            return
        for token in tokens:
            _quietly(client.remove_token, token)
        if room is not None:
            _quietly(lambda: client.room_allow(room=room[0], secret=room[1], tokens=tokens, allow=False))

    transaction.on_commit(revoke)


# --- Expiry -----------------------------------------------------------------------------------


def group_calls_sweep(*, now: datetime | None = None) -> int:
    """Empty the seats whose tokens expired without renewal (``call.left``, reason expired),
    ending calls left empty; returns how many seats were emptied. Run it periodically."""
    now = now or timezone.now()
    expired = CallParticipant.objects.filter(
        call__kind=Call.Kind.GROUP, left_at__isnull=True, token_expires_at__lt=now
    ).values_list("call_id", flat=True)
    closed = 0
    for call_id in sorted(set(expired)):
        with transaction.atomic():
            call = Call.objects.select_for_update().filter(pk=call_id).exclude(state=Call.State.ENDED).first()
            if call is None:
                continue
            seats = CallParticipant.objects.filter(call=call, left_at__isnull=True, token_expires_at__lt=now)
            for participant in seats.order_by("id"):
                _seat_close(call, participant, reason=EXPIRED)
                closed += 1
                if call.state == Call.State.ENDED:
                    break
    return closed


# --- Chat room membership ---------------------------------------------------------------------


def member_removed(*, room_id: int, user_id: int) -> None:
    """Take a member who left or was removed from the chat room out of its live group call.

    Runs in the transaction that removed the membership: the seat empties there (the remaining
    members get ``call.left`` with reason removed; the removed member, no longer a member, does
    not), and the token is revoked in Janus after commit.
    """
    seat = (
        CallParticipant.objects.filter(
            call__room_id=room_id, call__kind=Call.Kind.GROUP, user_id=user_id, left_at__isnull=True
        )
        .exclude(call__state=Call.State.ENDED)
        .values_list("call_id", flat=True)
        .first()
    )
    if seat is None:
        return
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(pk=seat).exclude(state=Call.State.ENDED).first()
        if call is None:
            return
        participant = CallParticipant.objects.filter(call=call, user_id=user_id, left_at__isnull=True).first()
        if participant is not None:
            _seat_close(call, participant, reason=REMOVED)


def _membership_deleted(sender: type[Membership], instance: Membership, origin: Any = None, **_kwargs: Any) -> None:
    # Only a membership deleted for itself (a member left or was removed). When a room or a user
    # is deleted, the calls and seats go with it: see _call_deleting and _seat_deleting.
    if isinstance(origin, Membership) or (isinstance(origin, QuerySet) and origin.model is Membership):
        member_removed(room_id=instance.room_id, user_id=instance.user_id)


def _call_deleting(sender: type[Call], instance: Call, **_kwargs: Any) -> None:
    """A live group call deleted outright (its chat room was): destroy its Janus room after commit."""
    if instance.kind == Call.Kind.GROUP and instance.state != Call.State.ENDED and instance.sfu_room_id is not None:
        sfu_room_id, secret = instance.sfu_room_id, instance.sfu_room_secret
        transaction.on_commit(lambda: _sfu_room_destroy(sfu_room_id, secret))


def _seat_deleting(sender: type[CallParticipant], instance: CallParticipant, **_kwargs: Any) -> None:
    """A live seat deleted outright (with its call or its user): revoke its token after commit."""
    if instance.left_at is None:
        _revoke_on_commit([instance.sfu_token])


def connect_signals() -> None:
    """Watch chat memberships, calls and seats; idempotent (``dispatch_uid``), for ``CallsConfig.ready()``."""
    post_delete.connect(_membership_deleted, sender=Membership, dispatch_uid="calls.group.membership_deleted")
    pre_delete.connect(_call_deleting, sender=Call, dispatch_uid="calls.group.call_deleting")
    pre_delete.connect(_seat_deleting, sender=CallParticipant, dispatch_uid="calls.group.seat_deleting")


# Connected at import as well, until calls/apps.py calls connect_signals() from ready().
connect_signals()


# --- Helpers ----------------------------------------------------------------------------------


def _live_call(*, room_id: int, lock: bool = False) -> Call | None:
    calls = Call.objects.filter(room_id=room_id, kind=Call.Kind.GROUP).exclude(state=Call.State.ENDED)
    if lock:
        calls = calls.select_for_update()
    return calls.order_by("id").first()


def _live_seat(*, room_id: int, user_id: int) -> CallParticipant | None:
    return (
        CallParticipant.objects.filter(
            call__room_id=room_id, call__kind=Call.Kind.GROUP, user_id=user_id, left_at__isnull=True
        )
        .exclude(call__state=Call.State.ENDED)
        .first()
    )


def _client() -> janus.JanusClient:
    try:
        return janus.janus_client()
    except janus.JanusError as error:
        raise _unavailable(error) from None


def _client_or_none() -> janus.JanusClient | None:
    try:
        return janus.janus_client()
    except janus.JanusError as error:
        logger.warning("janus_unavailable", error=str(error))
        return None


def _janus_or_503(operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return operation(*args, **kwargs)
    except janus.JanusError as error:
        raise _unavailable(error) from None


def _unavailable(error: janus.JanusError) -> ApiError:
    # The error's text names the request and Janus's reason, never a secret.
    logger.warning("janus_request_failed", error=str(error))
    return ApiError(ErrorCode.UNAVAILABLE, UNAVAILABLE_MESSAGE)


def _quietly(operation: Callable[..., Any], *args: Any) -> None:
    """Clean-up in Janus that must not turn a done change into a failure; logged when it fails."""
    try:
        operation(*args)
    except janus.JanusError as error:
        logger.warning("janus_cleanup_failed", error=str(error))
