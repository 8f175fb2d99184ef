"""Voice calls: accepted from the API, moved forward only, their timeline, their end and usage.

The writes that the API, the origination task and the orchestrator share. A call's status only
moves forward (``queued → ringing → in-progress → completed | busy | no-answer | failed |
canceled``); each change is a timeline event and, when the call has a ``status_callback``, a
signed POST to the project. Hangup causes are Q.850 codes as ARI reports them.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from fastsock.core.errors import ApiError, ErrorCode, invalid_field

from .models import ApiKey, CallEvent, CallFlow, CallRecording, Connector, PhoneNumber, Project, VoiceCall

Status = VoiceCall.Status
TERMINAL = frozenset({Status.COMPLETED, Status.BUSY, Status.NO_ANSWER, Status.FAILED, Status.CANCELED})
_RANK = {Status.QUEUED: 0, Status.RINGING: 1, Status.IN_PROGRESS: 2, **dict.fromkeys(TERMINAL, 3)}

# Q.850 causes that say the trunk (not the callee) failed: the next trunk may work.
TRUNK_FAILURE_CAUSES = frozenset({3, 27, 34, 38, 41, 42})
BUSY_CAUSES = frozenset({17, 21})  # user busy, call rejected
NO_ANSWER_CAUSES = frozenset({18, 19})  # no user response, no answer


def outcome_for_cause(cause: int | None, *, answered: bool) -> str:
    """The final status of a call (or a dial attempt) that ended with ``cause``."""
    if answered:
        return Status.COMPLETED
    if cause in BUSY_CAUSES:
        return Status.BUSY
    if cause in NO_ANSWER_CAUSES:
        return Status.NO_ANSWER
    return Status.FAILED


@dataclass(frozen=True)
class AriAccess:
    """Where an Asterisk's ARI is and how to log in: the password is read from the environment."""

    url: str
    username: str
    password: str
    app: str

    def __repr__(self) -> str:
        return f"AriAccess(url={self.url!r}, username={self.username!r}, app={self.app!r})"


def ari_access(connector: Connector | None = None) -> AriAccess:
    """ARI for a trunk's connector (its URL and credential variables), else ``ARI_*``."""
    app = os.environ.get("ARI_APP") or settings.ARI_APP
    if connector is not None:
        username = os.environ.get(connector.username_env, "") if connector.username_env else ""
        password = os.environ.get(connector.password_env, "") if connector.password_env else ""
        return AriAccess(connector.base_url, username, password, app)
    url = os.environ.get("ARI_URL", "")
    if not url:
        first = Connector.objects.filter(kind=Connector.Kind.ASTERISK, enabled=True).order_by("priority", "id").first()
        if first is None:
            raise ApiError(ErrorCode.UNAVAILABLE, "No Asterisk is configured (ARI_URL or an asterisk connector).")
        return ari_access(first)
    return AriAccess(url, os.environ.get("ARI_USERNAME", ""), os.environ.get("ARI_PASSWORD", ""), app)


def endpoint_for(target: str, trunk: Connector | None) -> str:
    """The dial string: a SIP endpoint as given (``PJSIP/alice``), a number through a trunk
    (the connector's name is the trunk's PJSIP endpoint)."""
    if "/" in target or trunk is None:
        return target
    return f"PJSIP/{target}@{trunk.name}"


def trunks_for(*, project_id: int, number: str) -> list[Connector]:
    """The asterisk connectors that carry calls for one of the project's numbers, best first."""
    found = PhoneNumber.objects.filter(e164=number, project_id=project_id).first()
    if found is None:
        return []
    usable = list(found.connectors.filter(kind=Connector.Kind.ASTERISK, enabled=True).order_by("priority", "id"))
    # A health mark can be stale: unhealthy trunks are tried too, after the healthy ones.
    return [c for c in usable if c.healthy] + [c for c in usable if not c.healthy]


def _definition_for(project: Project, flow_id: Any, flow: Any) -> tuple[dict[str, Any], Any]:
    from . import flows

    if (flow_id is None) == (flow is None):
        raise invalid_field("flow_id", "Give either flow_id or flow.")
    if flow is not None:
        errors = flows.validate(flow)
        if errors:
            raise ApiError(ErrorCode.INVALID, "The flow is not valid.", details={"flow": [e.as_dict() for e in errors]})
        return flow, None
    try:
        found = CallFlow.objects.select_related("active_version").get(pk=int(flow_id), project=project)
    except (TypeError, ValueError, CallFlow.DoesNotExist):
        raise ApiError(ErrorCode.NOT_FOUND, "No such flow in this project.") from None
    if found.active_version is None:
        raise invalid_field("flow_id", "This flow has no active version.")
    return found.active_version.definition, found.active_version


def call_accept(
    *,
    project: Project,
    api_key: ApiKey | None,
    to: Any,
    from_: Any = None,
    flow_id: Any = None,
    flow: Any = None,
    status_callback: Any = None,
) -> VoiceCall:
    """Validate and store an outbound call as ``queued``; origination starts after commit."""
    from .services import _e164, _http_url

    to_number = _e164(to, "to")
    numbers = PhoneNumber.objects.filter(project=project, voice=True).order_by("id")
    if from_ is not None:
        sender = numbers.filter(e164=_e164(from_, "from")).first()
        if sender is None:
            raise invalid_field("from", "Not one of this project's voice numbers.")
    else:
        sender = numbers.first()
        if sender is None:
            raise invalid_field("from", "This project has no voice number.")
    callback = _http_url(status_callback, "status_callback") if status_callback else ""
    definition, version = _definition_for(project, flow_id, flow)
    with transaction.atomic():
        call = VoiceCall.objects.create(
            project=project,
            api_key=api_key,
            direction=VoiceCall.Direction.OUTBOUND,
            from_number=sender.e164,
            to_number=to_number,
            flow_version=version,
            definition=definition,
            status_callback=callback,
        )
        call_event_add(call_id=call.pk, kind=CallEvent.Kind.CREATED, data={"to": to_number, "from": sender.e164})
        call_id = call.pk
        transaction.on_commit(lambda: enqueue_originate(call_id))
    return call


def enqueue_originate(call_id: int) -> None:
    from .tasks import originate_call

    originate_call.delay(call_id)


def call_event_add(*, call_id: int, kind: str, data: dict[str, Any] | None = None, dedupe_key: str = "") -> bool:
    """Append one event to a call's timeline; False when an event with ``dedupe_key`` is there."""
    try:
        with transaction.atomic():
            # The lock numbers a call's events one after another, whichever process adds them.
            VoiceCall.objects.select_for_update().filter(pk=call_id).values_list("pk", flat=True).get()
            last = CallEvent.objects.filter(call_id=call_id).aggregate(last=Max("seq"))["last"] or 0
            CallEvent.objects.create(call_id=call_id, seq=last + 1, kind=kind, data=data or {}, dedupe_key=dedupe_key)
    except IntegrityError:
        return False
    return True


def call_move(*, call_id: int, status: str, **changes: Any) -> bool:
    """Move a call forward to ``status`` (never back), with ``changes``; announce it."""
    earlier = [s for s, rank in _RANK.items() if rank < _RANK[status]]
    with transaction.atomic():
        moved = VoiceCall.objects.filter(pk=call_id, status__in=earlier).update(
            status=status, updated_at=timezone.now(), **changes
        )
        if moved:
            call_event_add(call_id=call_id, kind=CallEvent.Kind.STATUS, data={"status": status})
            callback = VoiceCall.objects.filter(pk=call_id).values_list("status_callback", "sid").get()
            if callback[0]:
                from .tasks import call_status_callback

                sid = callback[1]
                transaction.on_commit(lambda: call_status_callback.delay(sid, status))
    return bool(moved)


def call_ringing(*, call_id: int) -> bool:
    if call_move(call_id=call_id, status=Status.RINGING, ringing_at=timezone.now()):
        call_event_add(call_id=call_id, kind=CallEvent.Kind.RINGING, dedupe_key="ringing")
        return True
    return False


def call_answered(*, call_id: int, channel_id: str) -> bool:
    now = timezone.now()
    if call_move(call_id=call_id, status=Status.IN_PROGRESS, answered_at=now, channel_id=channel_id):
        call_event_add(
            call_id=call_id, kind=CallEvent.Kind.ANSWERED, data={"channel": channel_id}, dedupe_key="answered"
        )
        return True
    return False


def call_finish(
    *, call_id: int, cause: int | None, cause_text: str = "", status: str | None = None, error: str = ""
) -> str:
    """End a call: its final status (from the cause unless given), duration, the hangup event."""
    call = VoiceCall.objects.get(pk=call_id)
    if call.status in TERMINAL:
        return call.status
    now = timezone.now()
    final = status or outcome_for_cause(cause, answered=call.answered_at is not None)
    duration = int((now - call.answered_at).total_seconds()) if call.answered_at else 0
    changes: dict[str, Any] = {
        "ended_at": now,
        "duration_seconds": max(0, duration),
        "hangup_cause": cause,
        "hangup_cause_text": cause_text[:100],
    }
    if error:
        changes.update(error_code=final if final != Status.COMPLETED else "", error_message=error[:300])
    if call_move(call_id=call_id, status=final, **changes):
        call_event_add(
            call_id=call_id,
            kind=CallEvent.Kind.HANGUP,
            data={"cause": cause, "cause_text": cause_text, "status": final, "duration_seconds": max(0, duration)},
            dedupe_key="hangup",
        )
    return VoiceCall.objects.filter(pk=call_id).values_list("status", flat=True).get()


def call_save_state(*, call_id: int, state: dict[str, Any]) -> None:
    VoiceCall.objects.filter(pk=call_id).update(orchestrator_state=state)


def call_seconds_by_project(*, day: Any) -> dict[int, int]:
    """Seconds of answered calls that ended on ``day``, per project (the usage counters)."""
    from django.db.models import Sum

    rows = (
        VoiceCall.objects.filter(ended_at__date=day, answered_at__isnull=False)
        .values("project_id")
        .annotate(seconds=Sum("duration_seconds"))
    )
    return {row["project_id"]: row["seconds"] or 0 for row in rows}


def call_end_by_request(*, call: VoiceCall, status: Any) -> VoiceCall:
    """The project ends a call, as with Twilio's call update: ``canceled`` while it is queued or
    ringing, ``completed`` once it is in progress (the channel is hung up; the orchestrator then
    closes the call with its cause). 409 when the call is past that."""
    if status not in (Status.CANCELED, Status.COMPLETED):
        raise invalid_field("status", "canceled (queued or ringing) or completed (in progress).")
    wanted = {Status.CANCELED: (Status.QUEUED, Status.RINGING), Status.COMPLETED: (Status.IN_PROGRESS,)}[status]
    if call.status not in wanted:
        raise ApiError(ErrorCode.CONFLICT, f"A call that is {call.status} cannot become {status}.")
    if status == Status.CANCELED:
        # First, so an origination still in flight finds the call no longer queued.
        call_finish(call_id=call.pk, cause=None, status=Status.CANCELED)
    if call.channel_id:
        _hang_up(call)
    return VoiceCall.objects.get(pk=call.pk)


def _hang_up(call: VoiceCall) -> None:
    from .ari import AriClient, AriError, AriNotFound

    access = ari_access(call.connector)

    async def hang_up() -> None:
        async with AriClient.rest(url=access.url, username=access.username, password=access.password) as ari:
            await ari.hangup(call.channel_id, reason="normal")

    try:
        asyncio.run(hang_up())
    except AriNotFound:
        pass  # already gone
    except AriError as error:
        raise ApiError(ErrorCode.UNAVAILABLE, "Asterisk could not be asked to hang up; try again.") from error


def inbound_call_create(*, to: str, from_: str, channel_id: str) -> VoiceCall | None:
    """A call to one of our numbers, running that number's active flow; None if the number is
    not ours, takes no calls, or has no flow to run."""
    from .inbound import normalize

    number = PhoneNumber.objects.select_related("voice_flow__active_version").filter(e164=normalize(to)).first()
    if number is None or not number.voice or number.voice_flow is None or number.voice_flow.active_version is None:
        return None
    version = number.voice_flow.active_version
    with transaction.atomic():
        call = VoiceCall.objects.create(
            project_id=number.project_id,
            direction=VoiceCall.Direction.INBOUND,
            from_number=normalize(from_) if from_ else "",
            to_number=number.e164,
            flow_version=version,
            definition=version.definition,
            channel_id=channel_id,
        )
        call_event_add(call_id=call.pk, kind=CallEvent.Kind.CREATED, data={"to": number.e164, "from": call.from_number})
    return call


def recording_store(*, call_id: int, name: str, audio: bytes) -> CallRecording:
    """Keep a recording fetched from Asterisk in storage (once per ARI recording name)."""
    from django.core.files.base import ContentFile

    recording, _ = CallRecording.objects.get_or_create(call_id=call_id, name=name)
    if recording.status == CallRecording.Status.STORED:
        return recording
    recording.file.save(f"{recording.sid}.wav", ContentFile(audio), save=False)
    recording.size_bytes = len(audio)
    recording.duration_seconds = wav_seconds(audio)
    recording.status = CallRecording.Status.STORED
    recording.save()
    call_event_add(
        call_id=call_id,
        kind=CallEvent.Kind.RECORDING,
        data={"sid": recording.sid, "duration_seconds": recording.duration_seconds, "bytes": len(audio)},
        dedupe_key=f"recording:{name}",
    )
    return recording


def wav_seconds(audio: bytes) -> int:
    """A WAV file's length in whole seconds (0 when it is not one)."""
    import io
    import wave

    try:
        with wave.open(io.BytesIO(audio)) as reader:
            return round(reader.getnframes() / float(reader.getframerate() or 1))
    except (wave.Error, EOFError):
        return 0


def originate_attempt(*, call_id: int) -> str:
    """Originate an outbound call through its next usable trunk.

    The channel id is the call's sid and the attempt number, and it is stored before ARI is
    asked: a task that runs again after a crash asks again with the same id (ARI answers 409 if
    the first went through), so a call is never originated twice. Returns ``"originated"``,
    ``"already"`` (not queued any more, or originated before), or the call's final status.
    """
    from . import breaker

    call = VoiceCall.objects.filter(pk=call_id).first()
    if call is None or call.status != Status.QUEUED:
        return "already"
    state = dict(call.orchestrator_state)
    tried: list[int] = list(state.get("tried_trunks", []))
    trunks = {trunk.pk: trunk for trunk in trunks_for(project_id=call.project_id, number=call.from_number)}
    pending = state.get("pending")
    if pending and state.get("originated"):
        return "already"  # this task ran before and got through: the orchestrator has it now
    if pending and pending["trunk"] in trunks:
        outcome = _originate_once(call, trunks[pending["trunk"]], pending["channel"], pending["attempt"])
        if outcome != "unavailable":
            return outcome
    for trunk in trunks.values():
        if trunk.pk in tried or not breaker.breaker_allows(trunk):
            continue
        attempt = len(tried) + 1
        channel_id = f"{call.sid}-{attempt}"
        tried.append(trunk.pk)
        state.update(tried_trunks=tried, pending={"trunk": trunk.pk, "channel": channel_id, "attempt": attempt})
        VoiceCall.objects.filter(pk=call_id).update(
            orchestrator_state=state, attempts=attempt, connector=trunk, channel_id=channel_id
        )
        outcome = _originate_once(call, trunk, channel_id, attempt)
        if outcome != "unavailable":
            return outcome
    return call_finish(call_id=call_id, cause=None, status=Status.FAILED, error="No trunk could take the call.")


def _originate_once(call: VoiceCall, trunk: Connector, channel_id: str, attempt: int) -> str:
    from . import breaker
    from .ari import AriClient, AriConflict, AriError, AriUnavailable

    access = ari_access(trunk)
    endpoint = endpoint_for(call.to_number, trunk)

    async def originate() -> None:
        async with AriClient.rest(url=access.url, username=access.username, password=access.password) as ari:
            await ari.originate(
                endpoint=endpoint,
                channel_id=channel_id,
                app=access.app,
                app_args=f"outbound,{call.sid}",
                caller_id=call.from_number,
                timeout=settings.TELECOM_CALL_RING_SECONDS,
            )

    event = {"trunk": trunk.name, "endpoint": endpoint, "attempt": attempt}
    try:
        asyncio.run(originate())
    except AriConflict:
        result, event["outcome"] = "already", "already originated"
    except AriUnavailable as error:
        breaker.breaker_record_failure(trunk)
        result, event["outcome"], event["error"] = "unavailable", "trunk unavailable", str(error)[:200]
    except AriError as error:
        event.update(outcome="refused", error=str(error)[:200])
        call_event_add(call_id=call.pk, kind=CallEvent.Kind.DIAL_ATTEMPT, data=event, dedupe_key=f"origin:{channel_id}")
        return call_finish(
            call_id=call.pk, cause=None, status=Status.FAILED, error=f"Asterisk refused the call: {error}"
        )
    else:
        breaker.breaker_record_success(trunk)
        result, event["outcome"] = "originated", "originated"
    call_event_add(call_id=call.pk, kind=CallEvent.Kind.DIAL_ATTEMPT, data=event, dedupe_key=f"origin:{channel_id}")
    state = VoiceCall.objects.get(pk=call.pk).orchestrator_state
    if result == "unavailable":
        state.update(pending=None, originated=False)
    else:
        state["originated"] = True
    VoiceCall.objects.filter(pk=call.pk).update(orchestrator_state=state)
    return result


def originate_next_trunk(*, call_id: int) -> str:
    """The trunk of an originated call failed before it rang (congestion, out of order): try
    the next one, as :func:`originate_attempt` would after a transport failure."""
    call = VoiceCall.objects.get(pk=call_id)
    state = {**call.orchestrator_state, "pending": None, "originated": False}
    VoiceCall.objects.filter(pk=call_id).update(orchestrator_state=state)
    return originate_attempt(call_id=call_id)
