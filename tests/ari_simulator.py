"""An Asterisk ARI simulator for tests: REST, the events websocket and scripted phones.

Asterisk cannot be installed on these machines, so the voice tests talk to this server instead.
It runs in a thread of its own (its own asyncio loop) on a free 127.0.0.1 port, so sync and
async tests alike can use it, and serves what a client needs from a real Asterisk:

- the API description (``/ari/api-docs/…``) from :mod:`tests.ari_description`, with its
  ``basePath`` pointing here — asyncari reads it at connect;
- the REST operations listed there, checked strictly (an unknown or invalid parameter is a 400
  naming it) and answered with Asterisk's status codes and ``{"message": …}`` errors;
- ``/ari/events?app=…``, a websocket per application (a newer one replaces the older, which
  gets ``ApplicationReplaced``), with events in the order Asterisk sends them;
- HTTP Basic or ``api_key`` authentication: anything else is a 401.

(The HTTP and websocket side is :mod:`tests.ari_server`; this module is the telephony.)

Behaviour: channels go ``Down → Ringing → Up`` (outbound) or ``Ring → Up`` (inbound);
originated channels enter Stasis only once answered, ``/channels/create`` ones at once;
``Dial`` events carry the dialstatus, hang-ups the Q.850 cause (``ChannelHangupRequest``,
``StasisEnd``, ``ChannelDestroyed``); playbacks queue per channel and take a scripted time;
recordings end on stop, their limit, a terminating digit or hang-up, and leave a small WAV.

Scripted phones: :meth:`AriSimulator.script` says how a dialled number, endpoint or trunk
(``"@trunk"``) behaves — a :class:`Party` that answers after some ringing, is busy (17), does
not answer (19 when the dial timeout runs out), is unavailable (38) or congested (34), presses
digits after answering and hangs up after a while. :meth:`AriSimulator.inbound_call` brings a
call in. Every scripted duration is multiplied by ``time_scale`` so tests run fast; durations
reported in events (a recording's) are in scripted seconds.

``python -m tests.ari_simulator --port 8088`` runs it by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import io
import itertools
import json
import re
import threading
import time
import uuid
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from tests.ari_description import HANGUP_REASONS
from tests.ari_server import AriHttpServer, AriReply, EventSocket, LoggedRequest

T = TypeVar("T")

# Q.850 causes as Asterisk names them (causes.h, ast_cause2str).
CAUSE_TEXT: dict[int, str] = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    27: "Destination out of order",
    28: "Invalid number format",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    58: "Bearer capability not available",
    127: "Interworking, unspecified",
}
# DELETE /channels/{id}?reason=… → cause (res/ari/resource_channels.c).
HANGUP_REASON_CAUSE: dict[str, int] = {
    "normal": 16,
    "busy": 17,
    "congestion": 34,
    "no_answer": 19,
    "timeout": 18,
    "rejected": 21,
    "unallocated": 1,
    "normal_unspecified": 31,
    "number_incomplete": 28,
    "codec_mismatch": 58,
    "interworking": 127,
    "failure": 38,
    "answered_elsewhere": 26,
}
assert set(HANGUP_REASON_CAUSE) == set(HANGUP_REASONS)
# A far end that does not answer: (cause, Dial event dialstatus).
REFUSALS: dict[str, tuple[int, str]] = {
    "busy": (17, "BUSY"),
    "congestion": (34, "CONGESTION"),
    "unavailable": (38, "CHANUNAVAIL"),
    "rejected": (21, "BUSY"),
}
OUTCOMES = frozenset({"answer", "no_answer", *REFUSALS})
MEDIA_SCHEMES = frozenset({"sound", "recording", "number", "digits", "characters", "tone"})
RECORDING_FORMATS = frozenset({"wav", "wav16", "gsm", "ulaw", "alaw", "sln", "g722"})
BRIDGE_ATTRIBUTES = frozenset(
    {"mixing", "holding", "dtmf_events", "proxy_media", "video_sfu", "video_single", "sdp_label"}
)
DTMF_DIGITS = frozenset("0123456789ABCD#*")
RING_START_SECONDS = 0.05  # between the originate answer and the far end's first ring
BEEP_SECONDS = 0.5
DTMF_DURATION_MS = 100
WAV_RATE = 8000
WAV_MAX_SECONDS = 60


@dataclass(frozen=True)
class Party:
    """How the phone at the far end behaves (seconds are scripted: scaled by ``time_scale``).

    ``outcome``: ``answer`` (after ``ring_seconds``), ``no_answer`` (rings until the dial
    timeout: cause 19), ``busy`` (17), ``unavailable`` (38, CHANUNAVAIL), ``congestion`` (34)
    or ``rejected`` (21) — refused after ``ring_seconds``; ``cause`` overrides the cause.
    Once answered it presses ``digits`` (``digits_after`` seconds in, ``digit_gap`` between
    them, or one gap per digit) and hangs up ``hangup_after`` seconds after answering. An
    inbound caller who is not answered hangs up after ``abandon_after`` seconds.
    """

    outcome: str = "answer"
    ring_seconds: float = 1.0
    digits: str = ""
    digits_after: float = 0.5
    digit_gap: float | Sequence[float] = 0.2
    hangup_after: float | None = None
    abandon_after: float | None = None
    cause: int | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
        if set(self.digits) - DTMF_DIGITS:
            raise ValueError(f"digits must be DTMF digits (0-9, A-D, # and *): {self.digits!r}")
        if not isinstance(self.digit_gap, int | float) and len(self.digit_gap) != max(len(self.digits) - 1, 0):
            raise ValueError("digit_gap: one gap between each two digits")

    def digit_offsets(self) -> list[float]:
        """Seconds after answering at which each digit is pressed."""
        gaps = (
            [float(self.digit_gap)] * max(len(self.digits) - 1, 0)
            if isinstance(self.digit_gap, int | float)
            else [float(gap) for gap in self.digit_gap]
        )
        return list(itertools.accumulate([self.digits_after, *gaps]))[: len(self.digits)]


def _timestamp() -> str:
    """Asterisk's event time format: 2026-12-02T15:20:00.123+0000."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def _caller_id(text: str | None) -> dict[str, str]:
    """``"Name" <+1555…>``, ``Name <+1555…>`` or ``+1555…`` as a CallerID."""
    if not text:
        return {"name": "", "number": ""}
    match = re.fullmatch(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*', text)
    if match:
        return {"name": match.group(1).strip(), "number": match.group(2).strip()}
    return {"name": "", "number": text.strip()}


def wav_bytes(seconds: float) -> bytes:
    """A valid 8 kHz mono 16-bit WAV of silence lasting ``seconds`` (at most a minute)."""
    frames = int(WAV_RATE * min(max(seconds, 0.0), WAV_MAX_SECONDS))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(WAV_RATE)
        out.writeframes(b"\x00\x00" * frames)
    return buffer.getvalue()


@dataclass
class _Channel:
    id: str
    name: str
    app: str
    direction: str  # inbound | outbound
    party: Party
    dialstring: str = ""
    state: str = "Down"
    caller: dict[str, str] = field(default_factory=lambda: {"name": "", "number": ""})
    connected: dict[str, str] = field(default_factory=lambda: {"name": "", "number": ""})
    dialplan: dict[str, Any] = field(
        default_factory=lambda: {"context": "default", "exten": "s", "priority": 1, "app_name": "", "app_data": ""}
    )
    creationtime: str = field(default_factory=_timestamp)
    protocol_id: str = field(default_factory=lambda: f"{uuid.uuid4().hex}@127.0.0.1")
    in_stasis: bool = False
    args: list[str] = field(default_factory=list)
    enters_stasis_on_answer: bool = False
    dialable: bool = False  # made by /channels/create, not dialled yet
    dialing: bool = False  # ringing out: Dial events are running
    ring_timeout: float | None = None
    bridge: str | None = None
    playbacks: list[str] = field(default_factory=list)  # queue; the first is playing
    recording: str | None = None
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "protocol_id": self.protocol_id,
            "name": self.name,
            "state": self.state,
            "caller": dict(self.caller),
            "connected": dict(self.connected),
            "accountcode": "",
            "dialplan": dict(self.dialplan),
            "creationtime": self.creationtime,
            "language": "en",
        }


@dataclass
class _Bridge:
    id: str
    bridge_type: str
    name: str
    channels: list[str] = field(default_factory=list)
    apps: set[str] = field(default_factory=set)
    recordings: set[str] = field(default_factory=set)
    creationtime: str = field(default_factory=_timestamp)

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "technology": "holding_bridge" if self.bridge_type == "holding" else "simple_bridge",
            "bridge_type": self.bridge_type,
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": self.name,
            "channels": list(self.channels),
            "creationtime": self.creationtime,
        }


@dataclass
class _Playback:
    id: str
    channel_id: str
    media: list[str]
    language: str
    index: int = 0
    state: str = "queued"
    timer: asyncio.TimerHandle | None = None

    def snapshot(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": self.id,
            "media_uri": self.media[self.index],
            "target_uri": f"channel:{self.channel_id}",
            "language": self.language,
            "state": self.state,
        }
        if self.index + 1 < len(self.media):
            shown["next_media_uri"] = self.media[self.index + 1]
        return shown


@dataclass
class _Recording:
    name: str
    format: str
    target_kind: str  # channel | bridge
    target_id: str
    app_hint: set[str]
    max_seconds: int
    terminate_on: str
    if_exists: str
    state: str = "queued"
    started_at: float | None = None
    duration: int | None = None
    cause: str | None = None
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "name": self.name,
            "format": self.format,
            "target_uri": f"{self.target_kind}:{self.target_id}",
            "state": self.state,
        }
        if self.duration is not None:
            shown["duration"] = self.duration
        if self.cause is not None:
            shown["cause"] = self.cause
        return shown


@dataclass
class _Stored:
    name: str
    format: str
    seconds: float


class AriSimulator(AriHttpServer):
    """An ARI server on 127.0.0.1 with scripted phones; every public method is thread-safe."""

    def __init__(
        self,
        *,
        username: str = "fastsock",
        password: str = "simulated-ari-secret",  # noqa: S107 - the simulator's own test credential
        app: str = "fastsock",
        time_scale: float = 0.01,
        port: int | None = None,
    ) -> None:
        super().__init__(username=username, password=password, port=port)
        self.app = app
        self.time_scale = time_scale
        self.asterisk_id = "02:42:ac:11:00:02"
        self.default_party = Party()
        self.default_media_seconds = 2.0
        self.media_seconds: dict[str, float] = {}
        self.missing_media: set[str] = set()
        self._scripts: dict[str, Party] = {}
        self._channels: dict[str, _Channel] = {}
        self._bridges: dict[str, _Bridge] = {}
        self._playbacks: dict[str, _Playback] = {}
        self._recordings: dict[str, _Recording] = {}
        self._stored: dict[str, _Stored] = {}
        self._sequence = itertools.count(1)
        self._started = time.time()
        self._events: list[dict[str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    # Lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """What FastSock's ARI url setting would hold: ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AriSimulator:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.set_exception_handler(lambda _loop, context: self._record_error(context.get("exception")))
            self._loop = loop
            loop.run_until_complete(self._listen())
            ready.set()
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"ari-simulator-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the ARI simulator did not start")
        return self

    def close(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._in_loop(self._shut)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> AriSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def go_down(self) -> None:
        """Stop answering: close the port and every connection (calls stay, as in a network outage)."""
        self._in_loop(self._shut)

    def come_back(self) -> None:
        """Listen again on the same port after :meth:`go_down`."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    def _shut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for listener in list(self._sockets):
            listener.drop()
        for writer in list(self._connections):
            writer.transport.abort()

    # Test API ------------------------------------------------------------------------------

    def script(self, target: str, party: Party) -> None:
        """How calls to ``target`` behave: a whole endpoint (``PJSIP/+1555…@trunk``), its
        resource (``+1555…@trunk``), a number (``+1555…``) or a trunk (``@trunk``), tried in that order."""
        self._in_loop(self._scripts.__setitem__, target, party)

    def fail_next(
        self, nickname: str, *, status: int = 500, message: str = "Internal Server Error", times: int = 1
    ) -> None:
        """Answer the next ``times`` calls of the operation ``nickname`` with ``status``."""
        self._in_loop(lambda: self._faults.setdefault(nickname, []).extend([(status, message)] * times))

    def inbound_call(
        self,
        *,
        caller: str,
        dialed: str,
        party: Party | None = None,
        args: Sequence[str] = (),
        caller_name: str = "",
        trunk: str = "trunk",
        app: str | None = None,
    ) -> str:
        """A call from ``caller`` to our number ``dialed`` arrives in the app's Stasis; its channel id.

        As with ``Stasis()`` in a real dialplan, a call for an application without a websocket is lost.
        """
        return self._in_loop(self._inbound_call, caller, dialed, party or Party(), list(args), caller_name, trunk, app)

    def press(self, channel_id: str, digits: str, *, gap: float = 0.2) -> None:
        """The far end on ``channel_id`` presses ``digits`` now, ``gap`` scripted seconds apart."""
        if set(digits) - DTMF_DIGITS:
            raise ValueError(f"not DTMF digits: {digits!r}")
        self._in_loop(self._press, channel_id, digits, gap)

    def hang_up(self, channel_id: str, *, cause: int = 16) -> None:
        """The far end on ``channel_id`` hangs up now."""
        self._in_loop(self._far_end_hangup, channel_id, cause)

    def drop_websockets(self) -> None:
        """Cut every events websocket (the client must reconnect)."""
        self._in_loop(lambda: [listener.drop() for listener in list(self._sockets)])

    @property
    def websocket_count(self) -> int:
        return self._in_loop(lambda: len(self._sockets))

    def channel(self, channel_id: str) -> dict[str, Any] | None:
        """The live channel's snapshot, with ``in_stasis`` and ``bridge``; None once destroyed."""

        def read() -> dict[str, Any] | None:
            channel = self._channels.get(channel_id)
            if channel is None:
                return None
            return {**channel.snapshot(), "in_stasis": channel.in_stasis, "bridge": channel.bridge}

        return self._in_loop(read)

    def channel_ids(self) -> list[str]:
        return self._in_loop(lambda: list(self._channels))

    def bridge(self, bridge_id: str) -> dict[str, Any] | None:
        return self._in_loop(lambda: self._bridges[bridge_id].snapshot() if bridge_id in self._bridges else None)

    def stored_recordings(self) -> dict[str, float]:
        """Stored recording names and their lengths in scripted seconds."""
        return self._in_loop(lambda: {name: stored.seconds for name, stored in self._stored.items()})

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event emitted so far (delivered or not: an app without a websocket misses them)."""
        with self._changed:
            return list(self._events)

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._changed:
            return list(self._requests)

    def wait_for(self, predicate: Callable[[], T], *, timeout: float = 5.0, what: str = "the condition") -> T:
        """Block until ``predicate()`` is truthy (checked after every change); return its value."""
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                version = self._version
            result = predicate()
            if result:
                return result
            with self._changed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{what} within {timeout} s")
                if self._version == version:
                    self._changed.wait(remaining)

    def wait_for_event(
        self,
        event_type: str,
        *,
        channel_id: str | None = None,
        since: int = 0,
        where: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """The first event of ``event_type`` (for ``channel_id``, from index ``since``) matching ``where``."""

        def find() -> dict[str, Any] | None:
            for event in self.events[since:]:
                if event["type"] != event_type:
                    continue
                if channel_id is not None and channel_of(event) != channel_id:
                    continue
                if where is None or where(event):
                    return event
            return None

        return self.wait_for(find, timeout=timeout, what=f"{event_type} for {channel_id or 'any channel'}")

    async def wait_for_async(
        self,
        predicate: Callable[[], T],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline wait_for enforces in its thread
        what: str = "the condition",
    ) -> T:
        """:meth:`wait_for` for async tests (the predicate runs in a worker thread)."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout=timeout, what=what)

    async def wait_for_event_async(self, event_type: str, **options: Any) -> dict[str, Any]:
        return await asyncio.to_thread(self.wait_for_event, event_type, **options)

    # Plumbing ------------------------------------------------------------------------------

    def _in_loop(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function`` on the simulator's loop (where all its state lives) and return its result."""
        if self._loop is None:
            raise RuntimeError("the ARI simulator is not running")
        if threading.current_thread() is self._thread:
            return function(*args)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(function(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(10)

    def _after(self, seconds: float, callback: Callable[..., None], *args: Any) -> asyncio.TimerHandle:
        """Run ``callback`` after ``seconds`` scripted seconds; its errors land in ``errors``."""
        assert self._loop is not None

        def guarded() -> None:
            try:
                callback(*args)
            except Exception as exc:  # noqa: BLE001 - a test sees it in sim.errors
                self._record_error(exc)

        return self._loop.call_later(max(seconds, 0.0) * self.time_scale, guarded)

    def _channel_after(self, channel: _Channel, seconds: float, callback: Callable[..., None], *args: Any) -> None:
        channel.timers.append(self._after(seconds, callback, *args))

    def _new_id(self) -> str:
        return f"{int(self._started)}.{next(self._sequence)}"

    def _emit(self, apps: set[str] | str, event_type: str, **fields: Any) -> None:
        """Send an event to each app's websocket (apps without one miss it) and log it."""
        for app in sorted({apps} if isinstance(apps, str) else apps):
            self._send(self._app_socket.get(app), app, event_type, **fields)
        self._changed_now()

    def _send(self, listener: EventSocket | None, app: str, event_type: str, **fields: Any) -> None:
        event = {"type": event_type, "timestamp": _timestamp(), "application": app, "asterisk_id": self.asterisk_id}
        event.update(fields)
        with self._changed:
            self._events.append(event)
        if listener is not None:
            listener.send(json.dumps(event))

    def _party_for(self, endpoint: str) -> Party:
        resource = endpoint.split("/", 1)[1]
        number, _, trunk = resource.partition("@")
        for key in (endpoint, resource, number, f"@{trunk}" if trunk else None):
            if key and key in self._scripts:
                return self._scripts[key]
        return self.default_party

    # Channels ------------------------------------------------------------------------------

    def _set_state(self, channel: _Channel, state: str) -> None:
        if channel.state != state:
            channel.state = state
            self._emit(channel.app, "ChannelStateChange", channel=channel.snapshot())

    def _dial_event(self, channel: _Channel, dialstatus: str) -> None:
        # Asterisk publishes these without a caller both for originate and for /dial.
        fields: dict[str, Any] = {
            "peer": channel.snapshot(),
            "dialstring": channel.dialstring,
            "dialstatus": dialstatus,
        }
        self._emit(channel.app, "Dial", **fields)

    def _enter_stasis(self, channel: _Channel) -> None:
        channel.in_stasis = True
        channel.dialplan = {
            **channel.dialplan,
            "app_name": "Stasis",
            "app_data": ",".join([channel.app, *channel.args]),
        }
        self._emit(channel.app, "StasisStart", args=list(channel.args), channel=channel.snapshot())

    def _new_outbound(self, endpoint: str, app: str, channel_id: str | None, app_args: str) -> _Channel:
        if not re.fullmatch(r"[A-Za-z0-9_]+/[^/\s]+(/.*)?", endpoint):
            raise AriReply(400, "Endpoint parameter must be TECH/resource")
        channel_id = channel_id or self._new_id()
        if channel_id in self._channels:
            raise AriReply(409, "Channel with given unique ID already exists")
        tech, resource = endpoint.split("/", 1)
        number, _, trunk = resource.partition("@")
        channel = _Channel(
            id=channel_id,
            name=f"{tech}/{trunk or number}-{next(self._sequence):08x}",
            app=app,
            direction="outbound",
            party=self._party_for(endpoint),
            dialstring=resource,
            args=app_args.split(",") if app_args else [],
        )
        channel.connected = {"name": "", "number": number}
        self._channels[channel.id] = channel
        return channel

    def _ring_out(self, channel: _Channel, timeout: float | None) -> None:
        """Start dialling the far end; what follows is its :class:`Party`'s script."""
        channel.dialing = True
        channel.ring_timeout = timeout
        self._dial_event(channel, "")
        party = channel.party
        if party.outcome in REFUSALS:
            self._channel_after(channel, party.ring_seconds, self._far_end_refuses, channel.id)
            return
        self._channel_after(channel, RING_START_SECONDS, self._far_end_rings, channel.id)

    def _far_end_rings(self, channel_id: str) -> None:
        channel = self._channels.get(channel_id)
        if channel is None or not channel.dialing:
            return
        self._set_state(channel, "Ringing")
        self._dial_event(channel, "RINGING")
        timeout = channel.ring_timeout
        if channel.party.outcome == "answer" and (timeout is None or channel.party.ring_seconds < timeout):
            self._channel_after(channel, channel.party.ring_seconds, self._far_end_answers, channel.id)
        if timeout is not None:
            self._channel_after(channel, timeout, self._ring_timeout, channel.id)

    def _far_end_answers(self, channel_id: str) -> None:
        channel = self._channels.get(channel_id)
        if channel is None or not channel.dialing:
            return
        channel.dialing = False
        self._dial_event(channel, "ANSWER")
        self._set_state(channel, "Up")
        if channel.enters_stasis_on_answer:
            self._enter_stasis(channel)
        self._script_after_answer(channel)

    def _far_end_refuses(self, channel_id: str) -> None:
        channel = self._channels.get(channel_id)
        if channel is None or not channel.dialing:
            return
        cause, dialstatus = REFUSALS[channel.party.outcome]
        channel.dialing = False
        self._dial_event(channel, dialstatus)
        self._destroy(channel, channel.party.cause or cause, request=True)

    def _ring_timeout(self, channel_id: str) -> None:
        channel = self._channels.get(channel_id)
        if channel is None or not channel.dialing:
            return
        channel.dialing = False
        self._dial_event(channel, "NOANSWER")
        self._destroy(channel, channel.party.cause or 19, request=False)

    def _script_after_answer(self, channel: _Channel) -> None:
        party = channel.party
        for digit, offset in zip(party.digits, party.digit_offsets(), strict=True):
            self._channel_after(channel, offset, self._dtmf, channel.id, digit)
        if party.hangup_after is not None:
            self._channel_after(channel, party.hangup_after, self._far_end_hangup, channel.id, 16)

    def _dtmf(self, channel_id: str, digit: str) -> None:
        channel = self._channels.get(channel_id)
        if channel is None or not channel.in_stasis or channel.state != "Up":
            return
        self._emit(
            channel.app, "ChannelDtmfReceived", digit=digit, duration_ms=DTMF_DURATION_MS, channel=channel.snapshot()
        )
        recording = self._recordings.get(channel.recording or "")
        if recording is not None and recording.state == "recording" and recording.terminate_on in ("any", digit):
            self._finish_recording(recording, "done")

    def _press(self, channel_id: str, digits: str, gap: float) -> None:
        channel = self._channels.get(channel_id)
        if channel is None or not channel.in_stasis or channel.state != "Up":
            raise ValueError(f"channel {channel_id} is not an answered channel in Stasis")
        for index, digit in enumerate(digits):
            self._channel_after(channel, index * gap, self._dtmf, channel.id, digit)

    def _far_end_hangup(self, channel_id: str, cause: int) -> None:
        channel = self._channels.get(channel_id)
        if channel is not None:
            self._destroy(channel, cause, request=True)

    def _destroy(self, channel: _Channel, cause: int, *, request: bool, soft: bool = False) -> None:
        """Hang the channel up: its playbacks, recording and bridge end first, as in Asterisk."""
        if self._channels.get(channel.id) is not channel:
            return
        for timer in channel.timers:
            timer.cancel()
        channel.timers.clear()
        if request:
            fields: dict[str, Any] = {"cause": cause, "channel": channel.snapshot()}
            if soft:
                fields["soft"] = True
            self._emit(channel.app, "ChannelHangupRequest", **fields)
        if channel.dialing:
            channel.dialing = False
            self._dial_event(channel, "CANCEL")
        for playback_id in list(channel.playbacks):
            playback = self._playbacks.get(playback_id)
            if playback is not None:
                self._finish_playback(playback, "done", start_next=False)
        recording = self._recordings.get(channel.recording or "")
        if recording is not None:
            self._finish_recording(recording, "done" if recording.state == "recording" else "failed")
        if channel.bridge is not None:
            self._leave_bridge(channel)
        if channel.in_stasis:
            channel.in_stasis = False
            self._emit(channel.app, "StasisEnd", channel=channel.snapshot())
        del self._channels[channel.id]
        self._emit(
            channel.app,
            "ChannelDestroyed",
            cause=cause,
            cause_txt=CAUSE_TEXT.get(cause, "Unknown"),
            channel=channel.snapshot(),
        )

    def _inbound_call(
        self,
        caller: str,
        dialed: str,
        party: Party,
        args: list[str],
        caller_name: str,
        trunk: str,
        app: str | None,
    ) -> str:
        app = app or self.app
        channel = _Channel(
            id=self._new_id(),
            name=f"PJSIP/{trunk}-{next(self._sequence):08x}",
            app=app,
            direction="inbound",
            party=party,
            state="Ring",
            args=args,
        )
        channel.caller = {"name": caller_name, "number": caller}
        channel.dialplan = {"context": "from-trunk", "exten": dialed, "priority": 1, "app_name": "", "app_data": ""}
        if app not in self._app_socket:
            return channel.id  # Stasis() fails for an unregistered app; the caller hears nothing from us
        self._channels[channel.id] = channel
        self._enter_stasis(channel)
        if party.abandon_after is not None:
            self._channel_after(channel, party.abandon_after, self._abandon, channel.id)
        return channel.id

    def _abandon(self, channel_id: str) -> None:
        channel = self._channels.get(channel_id)
        if channel is not None and channel.state != "Up":
            self._destroy(channel, 16, request=True)

    def _live_channel(self, channel_id: str, *, message: str = "Channel not found") -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            raise AriReply(404, message)
        return channel

    @staticmethod
    def _in_stasis(channel: _Channel) -> None:
        if not channel.in_stasis:
            raise AriReply(409, "Channel not in Stasis application")

    @staticmethod
    def _state_allows_media(channel: _Channel) -> None:
        """Asterisk refuses answer and play on outbound legs not yet answered (Down, Rsrved, Ringing)."""
        if channel.state in ("Down", "Rsrved", "Ringing"):
            raise AriReply(412, "Channel in invalid state")

    # REST: asterisk --------------------------------------------------------------------------

    def _rest_asterisk_getInfo(self, params: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802 - ARI's nickname
        started = datetime.fromtimestamp(self._started, UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        info = {
            "build": {
                "os": "Linux",
                "kernel": "6.1.0",
                "options": "",
                "machine": "x86_64",
                "date": "2026-08-06 00:00:00 UTC",
                "user": "simulator",
            },
            "system": {"version": "22.5.0-fastsock-simulator", "entity_id": self.asterisk_id},
            "config": {"name": "", "default_language": "en", "setid": {"user": "", "group": ""}},
            "status": {"startup_time": started, "last_reload_time": started},
        }
        only = params.get("only")
        return 200, {key: value for key, value in info.items() if not only or key in only}

    def _rest_asterisk_ping(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"asterisk_id": self.asterisk_id, "ping": "pong", "timestamp": _timestamp()}

    # REST: channels --------------------------------------------------------------------------

    def _rest_channels_list(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, [channel.snapshot() for channel in self._channels.values()]

    def _rest_channels_originate(self, params: dict[str, Any]) -> tuple[int, Any]:
        if not params.get("app"):
            raise AriReply(400, "Application or extension must be specified (the simulator runs no dialplan)")
        if params.get("originator") and params["originator"] not in self._channels:
            raise AriReply(400, "Provided originator channel was not found")
        channel = self._new_outbound(
            params["endpoint"], params["app"], params.get("channelId"), params.get("appArgs", "")
        )
        # Asterisk sets the given caller id as both caller and connected line of the new leg.
        channel.caller = _caller_id(params.get("callerId"))
        channel.connected = dict(channel.caller)
        channel.enters_stasis_on_answer = True
        timeout = params.get("timeout", 30)  # -1: no limit; 0 or less otherwise: 30 s
        self._ring_out(channel, None if timeout == -1 else timeout if timeout > 0 else 30)
        return 200, channel.snapshot()

    def _rest_channels_originateWithId(self, params: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        return self._rest_channels_originate(params)

    def _rest_channels_create(self, params: dict[str, Any]) -> tuple[int, Any]:
        channel = self._new_outbound(
            params["endpoint"], params["app"], params.get("channelId"), params.get("appArgs", "")
        )
        channel.dialable = True  # an unknown originator is ignored, as by Asterisk
        variables = params.get("variables") or {}
        if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
            raise AriReply(400, "variables must be an object of strings")
        if "CALLERID(num)" in variables:
            channel.caller = {"name": variables.get("CALLERID(name)", ""), "number": variables["CALLERID(num)"]}
        self._enter_stasis(channel)
        return 200, channel.snapshot()

    def _rest_channels_get(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, self._live_channel(params["channelId"]).snapshot()

    def _rest_channels_hangup(self, params: dict[str, Any]) -> tuple[int, Any]:
        if "reason" in params and "reason_code" in params:
            raise AriReply(400, "The reason and reason_code parameters are mutually exclusive")
        if "reason_code" in params:
            try:
                cause = int(params["reason_code"])
            except ValueError:
                raise AriReply(400, "Invalid reason for hangup provided") from None
        else:
            cause = HANGUP_REASON_CAUSE[params.get("reason", "normal")]
        self._destroy(self._live_channel(params["channelId"]), cause, request=True, soft=True)
        return 204, None

    def _rest_channels_answer(self, params: dict[str, Any]) -> tuple[int, Any]:
        channel = self._live_channel(params["channelId"])
        self._in_stasis(channel)
        self._state_allows_media(channel)
        if channel.state == "Up":
            return 204, None
        self._set_state(channel, "Up")
        self._script_after_answer(channel)
        return 204, None

    def _rest_channels_play(self, params: dict[str, Any]) -> tuple[int, Any]:
        channel = self._live_channel(params["channelId"])
        self._in_stasis(channel)
        self._state_allows_media(channel)
        playback_id = params.get("playbackId") or str(uuid.uuid4())
        playback = _Playback(playback_id, channel.id, list(params["media"]), params.get("lang") or "en")
        self._playbacks[playback_id] = playback
        channel.playbacks.append(playback_id)
        if channel.playbacks[0] == playback_id:
            self._loop_soon(self._start_playback, playback_id)
        return 201, playback.snapshot()

    def _rest_channels_playWithId(self, params: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        return self._rest_channels_play(params)

    def _rest_channels_record(self, params: dict[str, Any]) -> tuple[int, Any]:
        channel = self._live_channel(params["channelId"])
        self._in_stasis(channel)
        if channel.bridge is not None:
            raise AriReply(409, "Channel is bridged; record the bridge instead")
        recording = self._new_recording(params, "channel", channel.id, {channel.app})
        channel.recording = recording.name
        return 201, recording.snapshot()

    def _rest_channels_dial(self, params: dict[str, Any]) -> tuple[int, Any]:
        channel = self._live_channel(params["channelId"])
        self._in_stasis(channel)
        if channel.state not in ("Down", "Rsrved"):
            raise AriReply(409, "Channel is not in the 'Down' state")
        if not channel.dialable:
            raise AriReply(409, "Dialing a channel not created by ARI")
        # Like Asterisk, a caller that is no channel is ignored; one that is lends its caller id.
        caller = self._channels.get(params.get("caller", ""))
        if caller is not None:
            channel.connected = dict(caller.caller)
        channel.dialable = False
        timeout = params.get("timeout", 0)
        self._ring_out(channel, timeout if timeout > 0 else None)
        return 204, None

    # REST: playbacks -------------------------------------------------------------------------

    def _loop_soon(self, callback: Callable[..., None], *args: Any) -> None:
        """After the current answer is written, as Asterisk's events follow its HTTP answer."""
        self._after(0.0, callback, *args)

    def _start_playback(self, playback_id: str) -> None:
        playback = self._playbacks.get(playback_id)
        if playback is None or playback.state != "queued":
            return
        playback.state = "playing"
        app = self._channels[playback.channel_id].app
        self._emit(app, "PlaybackStarted", playback=playback.snapshot())
        self._play_current(playback)

    def _play_current(self, playback: _Playback) -> None:
        media = playback.media[playback.index]
        scheme = media.partition(":")[0]
        if scheme not in MEDIA_SCHEMES or media in self.missing_media:
            playback.timer = self._after(0.0, self._finish_playback_by_id, playback.id, "failed")
            return
        seconds = self.media_seconds.get(media, self.default_media_seconds)
        playback.timer = self._after(seconds, self._media_done, playback.id)

    def _media_done(self, playback_id: str) -> None:
        playback = self._playbacks.get(playback_id)
        if playback is None:
            return
        if playback.index + 1 < len(playback.media):
            playback.index += 1
            playback.state = "continuing"
            self._emit(self._channels[playback.channel_id].app, "PlaybackContinuing", playback=playback.snapshot())
            playback.state = "playing"
            self._play_current(playback)
        else:
            self._finish_playback(playback, "done")

    def _finish_playback_by_id(self, playback_id: str, state: str) -> None:
        playback = self._playbacks.get(playback_id)
        if playback is not None:
            self._finish_playback(playback, state)

    def _finish_playback(self, playback: _Playback, state: str, *, start_next: bool = True) -> None:
        if playback.timer is not None:
            playback.timer.cancel()
        playback.state = state
        del self._playbacks[playback.id]
        channel = self._channels.get(playback.channel_id)
        if channel is None:
            return
        channel.playbacks.remove(playback.id)
        self._emit(channel.app, "PlaybackFinished", playback=playback.snapshot())
        if start_next and channel.playbacks:
            self._start_playback(channel.playbacks[0])

    def _rest_playbacks_get(self, params: dict[str, Any]) -> tuple[int, Any]:
        playback = self._playbacks.get(params["playbackId"])
        if playback is None:
            raise AriReply(404, "Playback not found")
        return 200, playback.snapshot()

    def _rest_playbacks_stop(self, params: dict[str, Any]) -> tuple[int, Any]:
        playback = self._playbacks.get(params["playbackId"])
        if playback is None:
            raise AriReply(404, "Playback not found")
        self._finish_playback(playback, "done")
        return 204, None

    # REST: bridges ---------------------------------------------------------------------------

    def _bridge(self, bridge_id: str) -> _Bridge:
        bridge = self._bridges.get(bridge_id)
        if bridge is None:
            raise AriReply(404, "Bridge not found")
        return bridge

    def _bridge_apps(self, bridge: _Bridge) -> set[str]:
        return bridge.apps or set(self._app_socket) or {self.app}

    def _rest_bridges_list(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, [bridge.snapshot() for bridge in self._bridges.values()]

    def _rest_bridges_create(self, params: dict[str, Any]) -> tuple[int, Any]:
        attributes = [item.strip() for item in params.get("type", "mixing").split(",") if item.strip()]
        if set(attributes) - BRIDGE_ATTRIBUTES:
            raise AriReply(400, f"Invalid bridge type: {params['type']}")
        bridge_id = params.get("bridgeId") or str(uuid.uuid4())
        if bridge_id in self._bridges:
            raise AriReply(409, "Bridge with the same bridgeId already exists")
        bridge_type = "holding" if "holding" in attributes else "mixing"
        self._bridges[bridge_id] = bridge = _Bridge(bridge_id, bridge_type, params.get("name", ""))
        return 200, bridge.snapshot()

    def _rest_bridges_createWithId(self, params: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        return self._rest_bridges_create(params)

    def _rest_bridges_get(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, self._bridge(params["bridgeId"]).snapshot()

    def _rest_bridges_addChannel(self, params: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        bridge = self._bridge(params["bridgeId"])
        channels = []
        for channel_id in params["channel"]:
            channel = self._channels.get(channel_id)
            if channel is None:
                raise AriReply(400, f"Channel not found: {channel_id}")
            if not channel.in_stasis:
                raise AriReply(422, "Channel not in Stasis application")
            if channel.recording is not None:
                raise AriReply(409, "Channel currently recording")
            channels.append(channel)
        for channel in channels:
            if channel.bridge == bridge.id:
                continue
            if channel.bridge is not None:
                self._leave_bridge(channel)
            channel.bridge = bridge.id
            bridge.channels.append(channel.id)
            bridge.apps.add(channel.app)
            self._emit(
                self._bridge_apps(bridge), "ChannelEnteredBridge", bridge=bridge.snapshot(), channel=channel.snapshot()
            )
        return 204, None

    def _rest_bridges_removeChannel(self, params: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        bridge = self._bridge(params["bridgeId"])
        for channel_id in params["channel"]:
            channel = self._channels.get(channel_id)
            if channel is None:
                raise AriReply(400, f"Channel not found: {channel_id}")
            if channel.bridge != bridge.id:
                raise AriReply(422, "Channel not in this bridge")
        for channel_id in params["channel"]:
            self._leave_bridge(self._channels[channel_id])
        return 204, None

    def _leave_bridge(self, channel: _Channel) -> None:
        bridge = self._bridges.get(channel.bridge or "")
        channel.bridge = None
        if bridge is None:
            return
        bridge.channels.remove(channel.id)
        self._emit(self._bridge_apps(bridge), "ChannelLeftBridge", bridge=bridge.snapshot(), channel=channel.snapshot())

    def _rest_bridges_destroy(self, params: dict[str, Any]) -> tuple[int, Any]:
        bridge = self._bridge(params["bridgeId"])
        for channel_id in list(bridge.channels):
            self._leave_bridge(self._channels[channel_id])
        for name in list(bridge.recordings):
            self._finish_recording(self._recordings[name], "done")
        del self._bridges[bridge.id]
        self._emit(self._bridge_apps(bridge), "BridgeDestroyed", bridge=bridge.snapshot())
        return 204, None

    def _rest_bridges_record(self, params: dict[str, Any]) -> tuple[int, Any]:
        bridge = self._bridge(params["bridgeId"])
        recording = self._new_recording(params, "bridge", bridge.id, self._bridge_apps(bridge))
        bridge.recordings.add(recording.name)
        return 201, recording.snapshot()

    # REST: recordings ------------------------------------------------------------------------

    def _new_recording(self, params: dict[str, Any], kind: str, target_id: str, apps: set[str]) -> _Recording:
        name, audio_format = params["name"], params["format"]
        if audio_format not in RECORDING_FORMATS:
            raise AriReply(422, f"Recording format {audio_format} is unknown")
        if_exists = params.get("ifExists", "fail")
        if name in self._recordings or (name in self._stored and if_exists == "fail"):
            raise AriReply(409, "A recording with the same name already exists")
        recording = _Recording(
            name=name,
            format=audio_format,
            target_kind=kind,
            target_id=target_id,
            app_hint=set(apps),
            max_seconds=params.get("maxDurationSeconds", 0),
            terminate_on=params.get("terminateOn", "none"),
            if_exists=if_exists,
        )
        self._recordings[name] = recording
        delay = BEEP_SECONDS if params.get("beep") else 0.0
        recording.timers.append(self._after(delay, self._recording_starts, name))
        return recording

    def _recording_starts(self, name: str) -> None:
        recording = self._recordings.get(name)
        if recording is None or recording.state != "queued":
            return
        assert self._loop is not None
        recording.state = "recording"
        recording.started_at = self._loop.time()
        self._emit(recording.app_hint, "RecordingStarted", recording=recording.snapshot())
        if recording.max_seconds > 0:
            recording.timers.append(self._after(recording.max_seconds, self._recording_limit, name))

    def _recording_limit(self, name: str) -> None:
        recording = self._recordings.get(name)
        if recording is not None:
            self._finish_recording(recording, "done")

    def _finish_recording(self, recording: _Recording, state: str) -> None:
        assert self._loop is not None
        for timer in recording.timers:
            timer.cancel()
        del self._recordings[recording.name]
        if recording.target_kind == "channel":
            channel = self._channels.get(recording.target_id)
            if channel is not None:
                channel.recording = None
        else:
            bridge = self._bridges.get(recording.target_id)
            if bridge is not None:
                bridge.recordings.discard(recording.name)
        recording.state = state
        if state == "failed":
            recording.cause = "The target hung up before the recording started"
            self._emit(recording.app_hint, "RecordingFailed", recording=recording.snapshot())
            return
        seconds = (self._loop.time() - (recording.started_at or self._loop.time())) / self.time_scale
        if recording.max_seconds:
            seconds = min(seconds, recording.max_seconds)
        recording.duration = round(seconds)
        if state == "done":
            earlier = self._stored.get(recording.name)
            if earlier is not None and recording.if_exists == "append":
                seconds += earlier.seconds
            self._stored[recording.name] = _Stored(recording.name, recording.format, seconds)
        self._emit(recording.app_hint, "RecordingFinished", recording=recording.snapshot())

    def _live_recording(self, name: str) -> _Recording:
        recording = self._recordings.get(name)
        if recording is None:
            raise AriReply(404, "Recording not found")
        return recording

    def _stored_recording(self, name: str) -> _Stored:
        stored = self._stored.get(name)
        if stored is None:
            raise AriReply(404, "Recording not found")
        return stored

    def _rest_recordings_listStored(self, params: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        return 200, [{"name": stored.name, "format": stored.format} for stored in self._stored.values()]

    def _rest_recordings_getStored(self, params: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        stored = self._stored_recording(params["recordingName"])
        return 200, {"name": stored.name, "format": stored.format}

    def _rest_recordings_deleteStored(self, params: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        del self._stored[self._stored_recording(params["recordingName"]).name]
        return 204, None

    def _rest_recordings_getStoredFile(self, params: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        stored = self._stored_recording(params["recordingName"])
        if stored.format not in ("wav", "wav16"):
            raise AriReply(403, "The simulator only keeps WAV files")
        return 200, wav_bytes(stored.seconds)

    def _rest_recordings_getLive(self, params: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        return 200, self._live_recording(params["recordingName"]).snapshot()

    def _rest_recordings_stop(self, params: dict[str, Any]) -> tuple[int, Any]:
        recording = self._live_recording(params["recordingName"])
        self._finish_recording(recording, "done" if recording.state == "recording" else "failed")
        return 204, None

    def _rest_recordings_cancel(self, params: dict[str, Any]) -> tuple[int, Any]:
        self._finish_recording(self._live_recording(params["recordingName"]), "canceled")
        return 204, None


def channel_of(event: dict[str, Any]) -> str | None:
    """The channel an event is about: its ``channel``, a Dial's ``peer``, or the channel a
    playback or recording targets (``target_uri`` ``channel:<id>``); None for bridge events."""
    for key in ("channel", "peer"):
        value = event.get(key)
        if isinstance(value, dict):
            return value.get("id")
    for key in ("playback", "recording"):
        target = (event.get(key) or {}).get("target_uri", "")
        if target.startswith("channel:"):
            return target.removeprefix("channel:")
    return None


@contextlib.contextmanager
def running_ari_simulator(**options: Any) -> Iterator[AriSimulator]:
    """An :class:`AriSimulator` started for the ``with`` block and closed after it."""
    simulator = AriSimulator(**options).start()
    try:
        yield simulator
    finally:
        simulator.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run FastSock's ARI simulator on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--username", default="fastsock")
    parser.add_argument("--password", default="simulated-ari-secret")
    parser.add_argument("--app", default="fastsock")
    parser.add_argument("--time-scale", type=float, default=1.0)
    options = parser.parse_args()
    simulator = AriSimulator(
        username=options.username,
        password=options.password,
        app=options.app,
        time_scale=options.time_scale,
        port=options.port,
    ).start()
    print(f"ARI simulator on {simulator.url} (app {simulator.app}); Ctrl-C stops it")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        simulator.close()


if __name__ == "__main__":
    main()
