"""The voice worker: drives every call's channel through its flow over Asterisk ARI.

``python manage.py run_call_orchestrator`` runs one :class:`Orchestrator`. It connects to the ARI
events WebSocket as the Stasis application, reconnecting with backoff when the socket drops, and
runs one :class:`CallRun` per answered channel. What a run needs to go on after a restart is
saved on the call before each step (``orchestrator_state``: the step's path in the flow and the
channels it holds), so a restarted orchestrator looks up every unfinished call: a channel that is
gone ends its call, one that is still up carries on from the step it was in (that step starts
again: a prompt is played again, a gather listens again).

Channels reach the application three ways, told apart by the Stasis arguments: ``outbound,<sid>``
(an origination answered), ``dial,<sid>`` (a leg a ``dial`` step created) and anything else, an
inbound call to one of the projects' numbers, which runs that number's flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async

from . import voice
from .ari import AriClient, AriError, AriNotFound, AriUnavailable
from .flows import FlowCursor
from .models import CallEvent, VoiceCall

logger = logging.getLogger("fastsock.telecom.orchestrator")

Event = dict[str, Any]

HANGUP_EVENTS = frozenset({"ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"})


def _db(function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    return sync_to_async(function, thread_sensitive=True)


class Hangup(Exception):  # noqa: N818 - what happened, not an error
    """The channel a step works on hung up."""

    def __init__(self, cause: int | None, cause_text: str = "") -> None:
        super().__init__(cause_text or str(cause))
        self.cause, self.cause_text = cause, cause_text


def event_channel_ids(event: Event) -> list[str]:
    """Every channel an ARI event concerns, so it can be handed to the runs holding them."""
    ids = [event[key]["id"] for key in ("channel", "peer", "caller") if isinstance(event.get(key), dict)]
    for key in ("playback", "recording"):
        target = (event.get(key) or {}).get("target_uri", "")
        if target.startswith("channel:"):
            ids.append(target.removeprefix("channel:"))
    return ids


class EventFeed:
    """The events for one channel, in order; a step waits for the one it needs."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()

    async def wait(
        self, wanted: Callable[[Event], bool], within: float | None = None, *, hangups: bool = True
    ) -> Event | None:
        """The next event that ``wanted`` accepts (others are dropped); None after ``within`` seconds.

        Raises :class:`Hangup` when the channel hangs up first (unless ``hangups`` is False:
        then the hangup events are events like the others).
        """
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while True:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return None
            try:
                event = await asyncio.wait_for(self.queue.get(), remaining)
            except TimeoutError:
                return None
            if hangups and event.get("type") in HANGUP_EVENTS:
                raise Hangup(event.get("cause"), event.get("cause_txt", ""))
            if wanted(event):
                return event


class CallRun:
    """One call's channel driven through its flow."""

    def __init__(self, orchestrator: Orchestrator, call: VoiceCall, channel_id: str) -> None:
        self.orchestrator = orchestrator
        self.ari = orchestrator.ari
        self.call_id, self.sid = call.pk, call.sid
        self.definition: dict[str, Any] = call.definition
        self.channel_id = channel_id
        self.feed = orchestrator.feed(channel_id)
        self.state: dict[str, Any] = dict(call.orchestrator_state)
        # The project's number on this call: its trunks carry what a dial step calls out.
        self.our_number = call.to_number if call.direction == VoiceCall.Direction.INBOUND else call.from_number
        # What a dial step shows the callee unless it says otherwise: who is calling (inbound,
        # the caller passed through; outbound, our number).
        self.caller_id = call.from_number or self.our_number
        self.project_id = call.project_id

    async def event(self, kind: str, data: dict[str, Any] | None = None, dedupe_key: str = "") -> None:
        await _db(voice.call_event_add)(call_id=self.call_id, kind=kind, data=data or {}, dedupe_key=dedupe_key)

    async def save(self, **changes: Any) -> None:
        self.state.update(changes)
        await _db(voice.call_save_state)(call_id=self.call_id, state=self.state)

    async def run(self, start: list[Any] | None) -> None:
        """Run the flow from the saved position ``start`` (the first step when None) until it
        ends or the caller hangs up."""
        cause, cause_text = 16, "Normal Clearing"
        try:
            cursor = FlowCursor.resume(self.definition, start) if start else FlowCursor.start(self.definition)
            while cursor is not None:
                await self.save(path=cursor.state())
                verb, spec = cursor.verb, cursor.options()
                await self.event(CallEvent.Kind.STEP, {"path": cursor.json_path, "verb": verb, **_summary(verb, spec)})
                if verb == "gather":
                    cursor = cursor.after_gather(await self.gather(spec, cursor.json_path))
                elif verb == "dial":
                    cursor = cursor.after_dial(await Dial(self, spec).run())
                elif verb == "hangup":
                    await self.hangup("normal")
                    await self.feed.wait(lambda _event: False, within=10)  # ends on the hangup's events
                    return
                else:
                    await getattr(self, verb)(spec)
                    cursor = cursor.next()
            # The steps ran out: the call ends as a hangup step would end it.
            await self.hangup("normal")
        except Hangup as hangup:
            cause, cause_text = hangup.cause or 16, hangup.cause_text or cause_text
        except asyncio.CancelledError:
            # The orchestrator is stopping: the call stays as it is, for the next one to resume.
            self.orchestrator.forget(self.channel_id)
            raise
        except Exception as error:
            logger.exception("call flow failed", extra={"call": self.sid})
            await self.event(CallEvent.Kind.ERROR, {"error": type(error).__name__, "message": str(error)[:200]})
            with contextlib.suppress(Exception):
                await self.hangup("normal")
        await self.finish(cause, cause_text)

    async def finish(self, cause: int | None, cause_text: str) -> None:
        await self.orchestrator.store_pending_recordings(self.call_id, self.state)
        await _db(voice.call_finish)(call_id=self.call_id, cause=cause, cause_text=cause_text)
        self.orchestrator.forget(self.channel_id)

    async def hangup(self, reason: str) -> None:
        with contextlib.suppress(AriNotFound):
            await self.ari.hangup(self.channel_id, reason=reason)

    # Steps. Each returns None to go on with the next step, or the path (inside the step) of the
    # branch whose steps run instead.

    async def play_and_wait(self, media: list[str], *, language: str | None = None, until_digit: bool = False) -> str:
        """Play ``media``; wait until it ends. With ``until_digit``, a key stops it (returned)."""
        playback_id = f"{self.sid}-pb-{secrets.token_hex(4)}"
        await self.ari.play(self.channel_id, media=media, playback_id=playback_id, lang=language)

        def done(event: Event) -> bool:
            if until_digit and event.get("type") == "ChannelDtmfReceived":
                return True
            playback = event.get("playback") or {}
            return event.get("type") in ("PlaybackFinished", "PlaybackFailed") and playback.get("id") == playback_id

        event = await self.feed.wait(done)
        if event is not None and event.get("type") == "ChannelDtmfReceived":
            with contextlib.suppress(AriNotFound):
                await self.ari.stop_playback(playback_id)
            return str(event.get("digit", ""))
        return ""

    async def media(self, verb: str, spec: dict[str, Any]) -> tuple[str, str | None]:
        """What ARI plays for a ``say`` (speech rendered to a URL, or Asterisk's own digits and
        numbers) or a ``play`` (a sound name, or a URL through Asterisk's media cache), and in
        which language."""
        from . import tts

        if verb == "say":
            said = await sync_to_async(tts.media_for_say, thread_sensitive=False)(spec["text"], spec.get("language"))
            return said.uri, said.lang
        return tts.media_for_play(spec["url"]), None

    async def say(self, spec: dict[str, Any]) -> None:
        uri, language = await self.media("say", spec)
        await self.play_and_wait([uri], language=language)

    async def play(self, spec: dict[str, Any]) -> None:
        uri, _ = await self.media("play", spec)
        await self.play_and_wait([uri])

    async def pause(self, spec: dict[str, Any]) -> None:
        await self.feed.wait(lambda _event: False, within=float(spec["seconds"]))

    async def gather(self, spec: dict[str, Any], where: str) -> str:
        """The digits entered (barge-in: a key stops the prompt); "" when none came in time."""
        num_digits, finish_on_key = int(spec["num_digits"]), spec.get("finish_on_key") or ""
        digits = ""
        prompt = spec.get("prompt")
        if prompt:
            verb = next(iter(prompt))
            if verb == "pause":
                first = await self.feed.wait(_dtmf, within=float(prompt["pause"]["seconds"]))
                digits = str(first.get("digit", "")) if first else ""
            else:
                uri, language = await self.media(verb, prompt[verb])
                digits = await self.play_and_wait([uri], language=language, until_digit=True)
        finished = bool(finish_on_key) and digits == finish_on_key
        if finished:
            digits = ""
        while not finished and len(digits) < num_digits:
            event = await self.feed.wait(_dtmf, within=float(spec["timeout"]))
            if event is None:
                break
            digit = str(event.get("digit", ""))
            if digit == finish_on_key:
                break
            digits += digit
        await self.event(CallEvent.Kind.DIGITS, {"path": where, "digits": digits})
        return digits

    async def record(self, spec: dict[str, Any]) -> None:
        name = f"{self.sid}-rec-{secrets.token_hex(4)}"
        await self.save(pending_recordings=[*self.state.get("pending_recordings", []), name])
        await self.ari.record_channel(
            self.channel_id, name=name, max_seconds=int(spec["max_seconds"]), beep=bool(spec.get("beep", True))
        )

        def finished(event: Event) -> bool:
            recording = event.get("recording") or {}
            return event.get("type") in ("RecordingFinished", "RecordingFailed") and recording.get("name") == name

        if await self.feed.wait(finished, within=float(spec["max_seconds"]) + 10) is None:
            await self.ari.stop_recording(name)
        await self.orchestrator.store_pending_recordings(self.call_id, self.state)


def _dtmf(event: Event) -> bool:
    return event.get("type") == "ChannelDtmfReceived"


def _summary(verb: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A step's key fields for its timeline entry."""
    keys = {"say": ("text",), "play": ("url",), "pause": ("seconds",), "gather": ("num_digits",),
            "dial": ("to",), "record": ("max_seconds",)}.get(verb, ())  # fmt: skip
    return {key: (spec[key][:200] if isinstance(spec[key], str) else spec[key]) for key in keys if key in spec}


class Dial:
    """A ``dial`` step: try each target (through each usable trunk, best first, failing over only
    when a trunk is unavailable or congested), bridge the first that answers with the caller, and
    come back when the callee hangs up. Returns ``completed``, ``busy``, ``no-answer`` or ``failed``."""

    def __init__(self, run: CallRun, spec: dict[str, Any]) -> None:
        self.run_ = run
        self.spec = spec
        self.timeout = float(spec["timeout"])

    async def run(self) -> str:
        outcome = "failed"
        for target in self.spec["to"]:
            outcome = await self.dial_target(target)
            if outcome in ("completed", "busy"):
                break
        return outcome

    async def dial_target(self, target: str) -> str:
        from . import breaker

        run = self.run_
        trunks = (
            [None] if "/" in target else await _db(voice.trunks_for)(project_id=run.project_id, number=run.our_number)
        )
        if not trunks:
            await run.event(CallEvent.Kind.DIAL_ATTEMPT, {"to": target, "outcome": "failed", "reason": "no trunk"})
            return "failed"
        for trunk in trunks:
            if trunk is not None and not await sync_to_async(breaker.breaker_allows)(trunk):
                await run.event(
                    CallEvent.Kind.DIAL_ATTEMPT,
                    {"to": target, "trunk": trunk.name, "outcome": "skipped", "reason": "circuit open"},
                )
                continue
            outcome, cause = await self.attempt(target, trunk)
            data = {"to": target, "trunk": trunk.name if trunk else None, "outcome": outcome, "cause": cause}
            await run.event(CallEvent.Kind.DIAL_ATTEMPT, data)
            if outcome == "unavailable":
                if trunk is not None:
                    await sync_to_async(breaker.breaker_record_failure)(trunk)
                continue
            if trunk is not None:
                await sync_to_async(breaker.breaker_record_success)(trunk)
            return outcome
        return "failed"

    async def attempt(self, target: str, trunk: Any) -> tuple[str, int | None]:
        """One leg: ``completed`` (answered, talked, callee hung up), ``busy``, ``no-answer``,
        ``unavailable`` (the trunk failed: try the next) or ``failed``."""
        run = self.run_
        leg = f"{run.sid}-d{secrets.token_hex(3)}"
        bridge_id = f"{leg}-br"
        feed = run.orchestrator.feed(leg)
        await run.save(dial={"leg": leg, "bridge": bridge_id})
        answered = False
        try:
            try:
                await run.ari.create_channel(
                    endpoint=voice.endpoint_for(target, trunk), channel_id=leg, app_args=f"dial,{run.sid}",
                    originator=run.channel_id, variables={"CALLERID(num)": self.spec.get("caller_id") or run.caller_id},
                )  # fmt: skip
                await run.ari.create_bridge(bridge_id, type="mixing")
                await run.ari.add_to_bridge(bridge_id, [run.channel_id, leg])
                await run.ari.dial(leg, caller=run.channel_id, timeout=int(self.timeout) or 1)
            except AriUnavailable:
                return "unavailable", None
            except AriError as error:
                logger.warning("dial refused", extra={"call": run.sid, "status": error.status})
                return "failed", None
            # Ringing: until the callee answers, gives up or times out, unless the caller hangs up.
            ringing = asyncio.ensure_future(_ring(feed, self.timeout))
            caller_gone = asyncio.ensure_future(run.feed.wait(lambda _e: False))
            done, _ = await asyncio.wait({ringing, caller_gone}, return_when=asyncio.FIRST_COMPLETED)
            if caller_gone in done:
                ringing.cancel()
                caller_gone.result()  # raises the caller's Hangup
            caller_gone.cancel()
            outcome, cause = ringing.result()
            if outcome != "answered":
                return outcome, cause
            answered = True
            if self.spec.get("record"):
                name = f"{run.sid}-rec-{secrets.token_hex(4)}"
                await run.save(pending_recordings=[*run.state.get("pending_recordings", []), name])
                await run.ari.record_bridge(bridge_id, name=name, max_seconds=3600, beep=False)
            # Talking: until one side hangs up. The caller's hangup ends the whole call.
            callee_gone = asyncio.ensure_future(feed.wait(lambda _e: False))
            caller_gone = asyncio.ensure_future(run.feed.wait(lambda _e: False))
            done, _ = await asyncio.wait({callee_gone, caller_gone}, return_when=asyncio.FIRST_COMPLETED)
            for task in (callee_gone, caller_gone):
                if task not in done:
                    task.cancel()
            if caller_gone in done:
                caller_gone.result()  # raises the caller's Hangup
            return "completed", 16
        except Hangup:
            raise
        finally:
            for cleanup in (lambda: run.ari.hangup(leg, reason="normal"), lambda: run.ari.destroy_bridge(bridge_id)):
                with contextlib.suppress(AriNotFound, AriError):
                    await cleanup()
            run.orchestrator.forget(leg)
            await run.save(dial=None)
            if answered:
                await run.orchestrator.store_pending_recordings(run.call_id, run.state)


DIALSTATUS_OUTCOMES = {
    "BUSY": "busy",
    "NOANSWER": "no-answer",
    "CHANUNAVAIL": "unavailable",
    "CONGESTION": "unavailable",
}


async def _ring(feed: EventFeed, timeout: float) -> tuple[str, int | None]:  # noqa: ASYNC109 - the dial's own
    """How a ringing leg ends: ``answered``, or (once its channel is destroyed, which carries
    the cause) ``busy``, ``no-answer``, ``unavailable`` (the trunk failed) or ``failed``; a leg
    still ringing after ``timeout`` seconds is ``no-answer``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    dialstatus = ""
    while True:
        event = await feed.wait(lambda _e: True, within=max(0.0, deadline - loop.time()), hangups=False)
        if event is None:
            return "no-answer", 19
        kind = event.get("type")
        if kind == "Dial":
            dialstatus = event.get("dialstatus") or dialstatus
            if dialstatus == "ANSWER":
                return "answered", None
        elif kind == "ChannelStateChange" and (event.get("channel") or {}).get("state") == "Up":
            return "answered", None
        elif kind == "ChannelDestroyed":
            cause = event.get("cause")
            if dialstatus in DIALSTATUS_OUTCOMES:
                return DIALSTATUS_OUTCOMES[dialstatus], cause
            if cause in voice.TRUNK_FAILURE_CAUSES:
                return "unavailable", cause
            return voice.outcome_for_cause(cause, answered=False), cause


class Orchestrator:
    """The ARI application: one events socket, one :class:`CallRun` per live call."""

    def __init__(self, access: voice.AriAccess) -> None:
        self.access = access
        self.ari: Any = None
        self.feeds: dict[str, EventFeed] = {}
        self.runs: dict[str, asyncio.Task[None]] = {}
        self.connected = asyncio.Event()
        self.sessions = 0  # how many times it has connected (and resumed)
        self._session_started = asyncio.Condition()

    async def wait_for_session(self, number: int) -> None:
        """Until it has connected ``number`` times and is connected now."""
        async with self._session_started:
            await self._session_started.wait_for(lambda: self.sessions >= number and self.connected.is_set())

    def feed(self, channel_id: str) -> EventFeed:
        return self.feeds.setdefault(channel_id, EventFeed())

    def forget(self, channel_id: str) -> None:
        self.feeds.pop(channel_id, None)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Connect, resume, handle events; on a lost socket reconnect with backoff and jitter."""
        delay = 1.0
        while not stop.is_set():
            try:
                async with AriClient.connect(
                    url=self.access.url, app=self.access.app,
                    username=self.access.username, password=self.access.password,
                ) as ari:  # fmt: skip
                    self.ari = ari
                    delay = 1.0
                    logger.info("orchestrator connected", extra={"app": self.access.app})
                    await self.resume()
                    self.sessions += 1
                    self.connected.set()
                    async with self._session_started:
                        self._session_started.notify_all()
                    await self.consume(ari, stop)
            except (AriError, OSError) as error:
                logger.warning("ARI unreachable", extra={"error": type(error).__name__})
            finally:
                self.connected.clear()
            if stop.is_set():
                break
            wait = delay * random.uniform(0.7, 1.3)  # noqa: S311 - jitter
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            delay = min(30.0, delay * 2)
        for task in list(self.runs.values()):
            task.cancel()
        await asyncio.gather(*self.runs.values(), return_exceptions=True)

    async def consume(self, ari: Any, stop: asyncio.Event) -> None:
        events = ari.events().__aiter__()
        while not stop.is_set():
            next_event = asyncio.ensure_future(events.__anext__())
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({next_event, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if next_event not in done:
                next_event.cancel()
                return
            stopping.cancel()
            try:
                event = next_event.result()
            except StopAsyncIteration:
                return  # the socket closed: reconnect
            try:
                await self.dispatch(event)
            except Exception:
                logger.exception("ARI event handling failed", extra={"event_type": event.get("type")})

    async def dispatch(self, event: Event) -> None:
        kind = event.get("type")
        if kind == "StasisStart":
            await self.stasis_start(event)
        for channel_id in event_channel_ids(event):
            feed = self.feeds.get(channel_id)
            if feed is not None:
                feed.queue.put_nowait(event)
            elif kind in ("ChannelStateChange", "ChannelDestroyed") and "-" in channel_id:
                await self.unanswered_origination(event, channel_id)

    async def stasis_start(self, event: Event) -> None:
        channel = event.get("channel") or {}
        channel_id = channel.get("id", "")
        args = list(event.get("args") or [])
        if args[:1] == ["dial"]:
            return  # a dial step's leg: its run already listens to it
        if args[:1] == ["outbound"] and len(args) > 1:
            call = await _db(VoiceCall.objects.filter(sid=args[1]).first)()
            if call is None or call.status in voice.TERMINAL:
                await self.ari.hangup(channel_id, reason="normal")
                return
            await _db(voice.call_answered)(call_id=call.pk, channel_id=channel_id)
        else:
            call = await _db(_inbound_call)(channel)
            if call is None:
                await self.ari.hangup(channel_id, reason="unallocated")
                return
            await self.ari.answer(channel_id)
            await _db(voice.call_answered)(call_id=call.pk, channel_id=channel_id)
        call = await _db(VoiceCall.objects.get)(pk=call.pk)
        self.start_run(call, channel_id, start=None)

    def start_run(self, call: VoiceCall, channel_id: str, *, start: list[Any] | None) -> None:
        run = CallRun(self, call, channel_id)
        task = asyncio.ensure_future(run.run(start))
        self.runs[channel_id] = task
        task.add_done_callback(lambda _t: self.runs.pop(channel_id, None))

    async def unanswered_origination(self, event: Event, channel_id: str) -> None:
        """An originated channel before it is answered: ringing, or its end (busy, no answer,
        a failed trunk → the next trunk)."""
        sid = channel_id.rsplit("-", 1)[0]
        call = await _db(VoiceCall.objects.filter(sid=sid, channel_id=channel_id).first)()
        if call is None:
            return
        if call.status in voice.TERMINAL:
            if event["type"] == "ChannelStateChange":  # canceled meanwhile: stop the ringing
                with contextlib.suppress(AriError):
                    await self.ari.hangup(channel_id, reason="normal")
            return
        if event["type"] == "ChannelStateChange":
            if (event.get("channel") or {}).get("state") in ("Ringing", "Ring"):
                await _db(voice.call_ringing)(call_id=call.pk)
            return
        cause = event.get("cause")
        if call.answered_at is None and cause in voice.TRUNK_FAILURE_CAUSES and call.status == VoiceCall.Status.QUEUED:
            from . import breaker

            if call.connector_id:
                trunk = await _db(lambda: call.connector)()
                await sync_to_async(breaker.breaker_record_failure)(trunk)
            await _db(voice.call_event_add)(
                call_id=call.pk, kind=CallEvent.Kind.DIAL_ATTEMPT,
                data={"channel": channel_id, "outcome": "trunk failed", "cause": cause}, dedupe_key=f"end:{channel_id}",
            )  # fmt: skip
            await _db(voice.originate_next_trunk)(call_id=call.pk)
            return
        await _db(voice.call_finish)(call_id=call.pk, cause=cause, cause_text=event.get("cause_txt", ""))

    async def resume(self) -> None:
        """After a (re)connect: pick up every unfinished call this application was driving."""
        calls = await _db(lambda: list(VoiceCall.objects.filter(status=VoiceCall.Status.IN_PROGRESS)))()
        for call in calls:
            if call.channel_id in self.runs:
                continue
            try:
                channel = await self.ari.get_channel(call.channel_id)
            except AriNotFound:
                await self.store_pending_recordings(call.pk, call.orchestrator_state)
                await _db(voice.call_event_add)(
                    call_id=call.pk, kind=CallEvent.Kind.ERROR,
                    data={"message": "the channel ended while the orchestrator was away"},
                )  # fmt: skip
                await _db(voice.call_finish)(
                    call_id=call.pk, cause=None, cause_text="ended while the orchestrator was away"
                )
                continue
            if channel.get("state") != "Up":
                continue
            await _db(voice.call_event_add)(
                call_id=call.pk,
                kind=CallEvent.Kind.STATUS,
                data={"resumed": True, "path": call.orchestrator_state.get("path")},
            )
            self.start_run(call, call.channel_id, start=call.orchestrator_state.get("path"))

    async def store_pending_recordings(self, call_id: int, state: dict[str, Any]) -> None:
        """Fetch each finished recording of the call from Asterisk into storage (once)."""
        names = list(state.get("pending_recordings") or [])
        if not names:
            return
        for name in names:
            try:
                audio = await self.ari.stored_recording_file(name)
            except AriError as error:
                if error.status == 404:
                    continue  # not finished yet (or never made): a later pass takes it
                raise
            await _db(voice.recording_store)(call_id=call_id, name=name, audio=audio)
            with contextlib.suppress(AriError):
                await self.ari.delete_stored_recording(name)
            names.remove(name)
        state["pending_recordings"] = names
        await _db(voice.call_save_state)(call_id=call_id, state=state)


def _inbound_call(channel: dict[str, Any]) -> VoiceCall | None:
    """An inbound call to one of our numbers: a call record running the number's flow."""
    return voice.inbound_call_create(
        to=(channel.get("dialplan") or {}).get("exten", ""),
        from_=(channel.get("caller") or {}).get("number", ""),
        channel_id=channel.get("id", ""),
    )


def orchestrator_from_settings() -> Orchestrator:
    return Orchestrator(voice.ari_access())
