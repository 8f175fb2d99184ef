"""The call orchestrator driving calls through their flows against the ARI simulator.

The orchestrator runs in the test's event loop with the real adapter (telecom/ari.py, asyncari)
over HTTP and the events websocket to tests/ari_simulator.py; the database is the test's. Every
verb and branch, outbound calls and their outcomes, trunk failover and the breaker, duplicate
origination, a restart mid-call and a dropped socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import wave
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache

from telecom import voice
from telecom.models import CallFlow, CallFlowVersion, Connector, PhoneNumber, Project, VoiceCall
from telecom.orchestrator import Orchestrator
from tests.ari_simulator import AriSimulator, Party, running_ari_simulator
from tests.test_ari_conformance import Asterisk, ari_docs_folder, event_problems, load_asterisk, request_problems

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

OUR_NUMBER = "+14155550100"
CALLER = "+14155550177"
CALLEE = "+14155550123"
DEADLINE = 10.0


@pytest.fixture(scope="module")
def asterisk() -> Asterisk | None:
    """Asterisk's published ARI description, where it is present (see tests/test_ari_conformance.py)."""
    folder = ari_docs_folder()
    return load_asterisk(folder) if (folder / "resources.json").is_file() else None


@pytest.fixture
def sim(asterisk: Asterisk | None) -> Iterator[AriSimulator]:
    with running_ari_simulator(time_scale=0.01) as simulator:
        yield simulator
        assert simulator.errors == []
    if asterisk is not None:
        # Every REST call the orchestrator made and every event it was sent, as Asterisk has them.
        calls = [r for r in simulator.requests if not r.path.startswith("/ari/api-docs/")]
        problems = [problem for request in calls for problem in request_problems(request, asterisk)]
        for index, event in enumerate(simulator.events):
            problems += event_problems(event, asterisk, f"event {index} ({event.get('type')})")
        assert problems == []


@pytest.fixture
def ari_env(sim: AriSimulator, monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    monkeypatch.setenv("ARI_URL", sim.url)
    monkeypatch.setenv("ARI_USERNAME", sim.username)
    monkeypatch.setenv("ARI_PASSWORD", sim.password)
    monkeypatch.setenv("TEST_ARI_USER", sim.username)
    monkeypatch.setenv("TEST_ARI_PASSWORD", sim.password)
    monkeypatch.setenv("TEST_TRUNK_SECRET", "a-long-enough-webhook-secret")
    settings.ARI_APP = sim.app
    settings.TELECOM_BREAKER_FAILURES = 2
    settings.CELERY_TASK_ALWAYS_EAGER = True
    cache.clear()


@pytest.fixture
def project(ari_env: None, sim: AriSimulator) -> Project:
    project = Project.objects.create(name="Clinic")
    number = PhoneNumber.objects.create(e164=OUR_NUMBER, project=project, voice=True)
    for name, priority in (("trunk-a", 10), ("trunk-b", 20)):
        trunk = Connector.objects.create(
            name=name, kind="asterisk", base_url=sim.url, username_env="TEST_ARI_USER",
            password_env="TEST_ARI_PASSWORD", webhook_secret_env="TEST_TRUNK_SECRET", priority=priority,
        )  # fmt: skip
        number.connectors.add(trunk)
    return project


def make_flow(project: Project, definition: dict[str, Any]) -> CallFlow:
    flow = CallFlow.objects.create(project=project, name=f"flow-{CallFlow.objects.count()}")
    version = CallFlowVersion.objects.create(flow=flow, number=1, definition=definition)
    CallFlow.objects.filter(pk=flow.pk).update(active_version=version)
    PhoneNumber.objects.filter(e164=OUR_NUMBER).update(voice_flow=flow)
    return flow


@contextlib.asynccontextmanager
async def running(sim: AriSimulator) -> AsyncIterator[Orchestrator]:
    orchestrator = Orchestrator(await sync_to_async(voice.ari_access)())
    stop = asyncio.Event()
    task = asyncio.ensure_future(orchestrator.run_forever(stop))
    try:
        async with asyncio.timeout(DEADLINE):
            await orchestrator.wait_for_session(1)
        yield orchestrator
    finally:
        stop.set()
        async with asyncio.timeout(DEADLINE):
            await task


async def call_of(**filters: Any) -> VoiceCall:
    return await sync_to_async(lambda: VoiceCall.objects.filter(**filters).order_by("-id").first())()


async def until_call(predicate: Any, what: str, **filters: Any) -> VoiceCall:
    """Poll the call (bounded) until ``predicate(call)`` holds."""
    async with asyncio.timeout(DEADLINE):
        while True:
            call = await call_of(**filters)
            if call is not None and predicate(call):
                return call
            await asyncio.sleep(0.02)


async def timeline(call: VoiceCall) -> list[tuple[str, dict[str, Any]]]:
    return await sync_to_async(lambda: [(e.kind, e.data) for e in call.events.order_by("seq")])()


def plays(sim: AriSimulator, channel_id: str) -> list[str]:
    return [
        media
        for request in sim.requests
        if request.nickname in ("play", "playWithId") and f"/channels/{channel_id}/" in request.path
        for media in request.query.get("media", [])
    ]


async def finished(channel_id: str) -> VoiceCall:
    return await until_call(lambda c: c.status in voice.TERMINAL, "the call to end", channel_id=channel_id)


# Inbound calls: every verb and branch.

MENU = {
    "steps": [
        {
            "gather": {
                "num_digits": 1,
                "timeout": 2,
                "prompt": {"play": {"url": "sound:press-one-or-two"}},
                "branches": {"1": [{"play": {"url": "sound:sales"}}], "2": [{"play": {"url": "sound:support"}}]},
                "default": [{"play": {"url": "sound:invalid"}}],
                "no_input": [{"play": {"url": "sound:goodbye"}}],
            }
        },
        {"say": {"text": "42"}},
        {"hangup": {}},
    ]
}


@pytest.mark.parametrize(
    ("digits", "heard"),
    [("1", "sound:sales"), ("2", "sound:support"), ("9", "sound:invalid"), ("", "sound:goodbye")],
)
async def test_an_inbound_call_takes_the_branch_its_digits_choose_then_goes_on(
    sim: AriSimulator, project: Project, digits: str, heard: str
) -> None:
    await sync_to_async(make_flow)(project, MENU)
    async with running(sim):
        channel = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER, party=Party(digits=digits, digits_after=0.5))
        call = await finished(channel)

    assert call.status == "completed"
    assert (call.direction, call.from_number, call.to_number) == ("inbound", CALLER, OUR_NUMBER)
    assert plays(sim, channel) == ["sound:press-one-or-two", heard, "number:42"]
    events = await timeline(call)
    kinds = [kind for kind, _ in events]
    assert kinds[:2] == ["created", "status"]
    assert ("digits", {"path": "$.steps[0]", "digits": digits}) in events
    assert kinds[-1] == "hangup"
    assert call.answered_at is not None
    assert sim.channel(channel) is None  # hung up by the flow's hangup step


async def test_keys_pressed_during_the_prompt_stop_it_and_count(sim: AriSimulator, project: Project) -> None:
    sim.media_seconds["sound:long-prompt"] = 30.0
    flow = {
        "steps": [
            {
                "gather": {
                    "num_digits": 3,
                    "timeout": 2,
                    "finish_on_key": "#",
                    "prompt": {"play": {"url": "sound:long-prompt"}},
                    "branches": {"12": [{"play": {"url": "sound:twelve"}}]},
                }
            },
            {"hangup": {}},
        ]
    }
    await sync_to_async(make_flow)(project, flow)
    async with running(sim):
        channel = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER, party=Party(digits="12#", digits_after=0.5))
        call = await finished(channel)

    assert ("digits", {"path": "$.steps[0]", "digits": "12"}) in await timeline(call)
    assert plays(sim, channel) == ["sound:long-prompt", "sound:twelve"]
    assert any(request.method == "DELETE" and "/playbacks/" in request.path for request in sim.requests)


async def test_a_recording_is_fetched_into_storage_and_removed_from_asterisk(
    sim: AriSimulator, project: Project
) -> None:
    flow = {"steps": [{"record": {"max_seconds": 3, "beep": True}}, {"hangup": {}}]}
    await sync_to_async(make_flow)(project, flow)
    async with running(sim):
        channel = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER)
        call = await finished(channel)

    recordings = await sync_to_async(lambda: list(call.recordings.all()))()
    assert len(recordings) == 1
    recording = recordings[0]
    assert recording.status == "stored"
    assert recording.duration_seconds == 3
    with recording.file.open("rb") as audio, wave.open(io.BytesIO(audio.read())) as wav:
        assert wav.getframerate() == 8000
    assert sim.stored_recordings() == {}  # deleted from Asterisk once stored
    assert "recording" in [kind for kind, _ in await timeline(call)]


async def test_a_pause_waits_and_a_flow_that_runs_out_hangs_up(sim: AriSimulator, project: Project) -> None:
    await sync_to_async(make_flow)(project, {"steps": [{"pause": {"seconds": 1}}, {"hangup": {}}]})
    async with running(sim):
        loop = asyncio.get_running_loop()
        started = loop.time()
        channel = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER)
        call = await finished(channel)
        assert loop.time() - started >= 1.0
    assert call.status == "completed"


async def test_the_caller_hanging_up_mid_flow_ends_the_call_with_its_cause(sim: AriSimulator, project: Project) -> None:
    await sync_to_async(make_flow)(project, {"steps": [{"pause": {"seconds": 30}}, {"hangup": {}}]})
    async with running(sim):
        channel = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER)
        await until_call(lambda c: c.status == "in-progress", "answered", channel_id=channel)
        sim.hang_up(channel, cause=16)
        call = await finished(channel)

    assert call.status == "completed"
    assert call.hangup_cause == 16
    hangups = [data for kind, data in await timeline(call) if kind == "hangup"]
    assert len(hangups) == 1


async def test_a_call_to_a_number_without_a_flow_is_refused(sim: AriSimulator, project: Project) -> None:
    async with running(sim):
        channel = sim.inbound_call(caller=CALLER, dialed="+14155550999")
        await sim.wait_for_event_async("ChannelDestroyed", channel_id=channel, timeout=DEADLINE)
    assert await call_of(from_number=CALLER) is None


# Dial: bridging, outcomes, trunk failover and the breaker.


def dial_flow(**dial: Any) -> dict[str, Any]:
    return {
        "steps": [
            {
                "dial": {
                    "to": [CALLEE],
                    "timeout": 2,
                    "on_busy": [{"play": {"url": "sound:busy"}}],
                    "on_no_answer": [{"play": {"url": "sound:no-answer"}}],
                    "on_failed": [{"play": {"url": "sound:failed"}}],
                    **dial,
                }
            },
            {"play": {"url": "sound:after-dial"}},
            {"hangup": {}},
        ]
    }


async def dial_attempts(call: VoiceCall) -> list[tuple[str | None, str]]:
    return [(data.get("trunk"), data["outcome"]) for kind, data in await timeline(call) if kind == "dial_attempt"]


async def test_an_answered_dial_bridges_the_two_and_the_flow_goes_on_after_the_callee_hangs_up(
    sim: AriSimulator, project: Project
) -> None:
    sim.script(CALLEE, Party(ring_seconds=0.5, hangup_after=1.0))
    await sync_to_async(make_flow)(project, dial_flow(record=True))
    async with running(sim):
        channel = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER)
        call = await finished(channel)

    assert await dial_attempts(call) == [("trunk-a", "completed")]
    assert plays(sim, channel) == ["sound:after-dial"]
    entered = [e for e in sim.events if e["type"] == "ChannelEnteredBridge"]
    assert {e["channel"]["id"] for e in entered} >= {channel}
    assert len({e["bridge"]["id"] for e in entered}) == 1
    created = next(r for r in sim.requests if r.nickname == "create" and r.path.endswith("/channels/create"))
    assert created.query["endpoint"] == [f"PJSIP/{CALLEE}@trunk-a"]
    # The callee sees who is calling: the inbound caller, passed through.
    leg = next(e["channel"] for e in sim.events if e["type"] == "StasisStart" and e.get("args", [])[:1] == ["dial"])
    assert leg["caller"]["number"] == CALLER
    recordings = await sync_to_async(lambda: list(call.recordings.all()))()
    assert [r.status for r in recordings] == ["stored"]


@pytest.mark.parametrize(
    ("party", "heard", "outcome"),
    [
        (Party(outcome="busy", ring_seconds=0.3), "sound:busy", "busy"),
        (Party(outcome="no_answer"), "sound:no-answer", "no-answer"),
        (Party(outcome="rejected", ring_seconds=0.3), "sound:busy", "busy"),
    ],
)
async def test_busy_and_no_answer_take_their_branch_without_trying_another_trunk(
    sim: AriSimulator, project: Project, party: Party, heard: str, outcome: str
) -> None:
    sim.script(CALLEE, party)
    await sync_to_async(make_flow)(project, dial_flow())
    async with running(sim):
        channel = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER)
        call = await finished(channel)

    assert await dial_attempts(call) == [("trunk-a", outcome)]
    assert plays(sim, channel) == [heard, "sound:after-dial"]


async def test_an_unavailable_or_congested_trunk_fails_over_to_the_next(sim: AriSimulator, project: Project) -> None:
    sim.script("@trunk-a", Party(outcome="unavailable", ring_seconds=0.1))
    sim.script("@trunk-b", Party(ring_seconds=0.3, hangup_after=0.5))
    await sync_to_async(make_flow)(project, dial_flow(caller_id=OUR_NUMBER))
    async with running(sim):
        channel = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER)
        call = await finished(channel)

    assert await dial_attempts(call) == [("trunk-a", "unavailable"), ("trunk-b", "completed")]
    assert plays(sim, channel) == ["sound:after-dial"]
    legs = [e["channel"] for e in sim.events if e["type"] == "StasisStart" and e.get("args", [])[:1] == ["dial"]]
    assert {leg["caller"]["number"] for leg in legs} == {OUR_NUMBER}  # the step's caller_id


async def test_all_trunks_failing_takes_on_failed_and_opens_the_breaker(sim: AriSimulator, project: Project) -> None:
    sim.script("@trunk-a", Party(outcome="congestion", ring_seconds=0.1))
    sim.script("@trunk-b", Party(outcome="congestion", ring_seconds=0.1))
    await sync_to_async(make_flow)(project, dial_flow())
    async with running(sim):
        first = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER)
        call = await finished(first)
        assert await dial_attempts(call) == [("trunk-a", "unavailable"), ("trunk-b", "unavailable")]
        assert plays(sim, first) == ["sound:failed", "sound:after-dial"]
        # TELECOM_BREAKER_FAILURES is 2 here: one more failure each and both breakers are open.
        second = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER)
        await finished(second)
        third = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER)
        call = await finished(third)

    assert await dial_attempts(call) == [("trunk-a", "skipped"), ("trunk-b", "skipped")]
    assert plays(sim, third) == ["sound:failed", "sound:after-dial"]


# Outbound calls.


async def place(project: Project, definition: dict[str, Any], **fields: Any) -> VoiceCall:
    def accept() -> VoiceCall:
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            return voice.call_accept(project=project, api_key=None, to=CALLEE, flow=definition, **fields)

    return await sync_to_async(accept)()


async def test_an_outbound_call_rings_is_answered_runs_its_flow_and_completes(
    sim: AriSimulator, project: Project
) -> None:
    sim.script(CALLEE, Party(ring_seconds=0.5))
    async with running(sim):
        call = await place(project, {"steps": [{"play": {"url": "sound:hello"}}, {"hangup": {}}]})
        call = await until_call(lambda c: c.status in voice.TERMINAL, "completed", pk=call.pk)

    assert call.status == "completed"
    assert call.channel_id == f"{call.sid}-1"
    statuses = [data["status"] for kind, data in await timeline(call) if kind == "status"]
    assert statuses == ["ringing", "in-progress", "completed"]
    originate = next(r for r in sim.requests if r.nickname in ("originate", "originateWithId"))
    assert originate.query["endpoint"] == [f"PJSIP/{CALLEE}@trunk-a"]
    assert plays(sim, call.channel_id) == ["sound:hello"]


@pytest.mark.parametrize(
    ("party", "status", "cause"),
    [(Party(outcome="busy", ring_seconds=0.2), "busy", 17), (Party(outcome="no_answer"), "no-answer", 19)],
)
async def test_an_outbound_call_that_is_not_answered_ends_busy_or_no_answer(
    sim: AriSimulator, project: Project, settings: Any, party: Party, status: str, cause: int
) -> None:
    settings.TELECOM_CALL_RING_SECONDS = 1
    sim.script(CALLEE, party)
    async with running(sim):
        call = await place(project, {"steps": [{"hangup": {}}]})
        call = await until_call(lambda c: c.status in voice.TERMINAL, "ended", pk=call.pk)

    assert (call.status, call.hangup_cause) == (status, cause)
    assert call.answered_at is None


async def test_origination_fails_over_when_the_first_trunk_is_down(sim: AriSimulator, project: Project) -> None:
    sim.script("@trunk-a", Party(outcome="unavailable", ring_seconds=0.1))
    sim.script("@trunk-b", Party(ring_seconds=0.2))
    async with running(sim):
        call = await place(project, {"steps": [{"hangup": {}}]})
        call = await until_call(lambda c: c.status in voice.TERMINAL, "ended", pk=call.pk)

    assert call.status == "completed"
    assert call.channel_id == f"{call.sid}-2"
    trunks = [data.get("trunk") for kind, data in await timeline(call) if kind == "dial_attempt" and "trunk" in data]
    assert trunks == ["trunk-a", "trunk-b"]


async def test_a_repeated_origination_never_makes_a_second_call(
    sim: AriSimulator, project: Project, settings: Any
) -> None:
    settings.TELECOM_CALL_RING_SECONDS = 3000
    sim.script(CALLEE, Party(ring_seconds=1000))  # rings for the whole test (10 s here)
    async with running(sim):
        call = await place(project, {"steps": [{"hangup": {}}]})
        call = await until_call(lambda c: c.orchestrator_state.get("originated"), "originated", pk=call.pk)
        await sync_to_async(VoiceCall.objects.filter(pk=call.pk).update)(status="queued")
        # The task runs again (its message redelivered): it knows it got through.
        assert await sync_to_async(voice.originate_attempt)(call_id=call.pk) == "already"
        # It died between ARI's answer and noting it: it asks again with the same channel id.
        state = {**call.orchestrator_state, "originated": False}
        await sync_to_async(VoiceCall.objects.filter(pk=call.pk).update)(orchestrator_state=state)
        assert await sync_to_async(voice.originate_attempt)(call_id=call.pk) == "already"

    originations = [r for r in sim.requests if r.nickname in ("originate", "originateWithId")]
    assert [r.status for r in originations] == [200, 409]
    assert [c for c in sim.channel_ids() if c.startswith(call.sid)] == [f"{call.sid}-1"]


# Restarts and lost sockets.


async def test_a_restarted_orchestrator_picks_the_call_up_at_the_step_it_was_in(
    sim: AriSimulator, project: Project
) -> None:
    await sync_to_async(make_flow)(project, MENU)
    async with running(sim):
        channel = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER)
        await sim.wait_for_event_async("PlaybackStarted", channel_id=channel, timeout=DEADLINE)
    # Stopped mid-gather. The caller presses 2 once the prompt plays again.
    async with running(sim):
        await sim.wait_for_event_async(
            "PlaybackStarted", channel_id=channel, since=len(sim.events) - 1, timeout=DEADLINE
        )
        sim.press(channel, "2")
        call = await finished(channel)

    assert call.status == "completed"
    events = await timeline(call)
    assert ("digits", {"path": "$.steps[0]", "digits": "2"}) in events
    assert [kind for kind, _ in events].count("hangup") == 1
    assert [kind for kind, _ in events].count("answered") == 1
    assert "sound:support" in plays(sim, channel)


async def test_a_call_that_ended_while_the_orchestrator_was_away_is_closed_on_restart(
    sim: AriSimulator, project: Project
) -> None:
    await sync_to_async(make_flow)(project, MENU)
    async with running(sim):
        channel = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER)
        await sim.wait_for_event_async("PlaybackStarted", channel_id=channel, timeout=DEADLINE)
    sim.hang_up(channel)
    async with running(sim):
        call = await finished(channel)
    assert call.status == "completed"
    assert call.ended_at is not None


async def test_a_dropped_events_socket_is_reconnected_and_calls_go_on(sim: AriSimulator, project: Project) -> None:
    await sync_to_async(make_flow)(project, MENU)
    async with running(sim) as orchestrator:
        sim.drop_websockets()
        async with asyncio.timeout(DEADLINE):
            await orchestrator.wait_for_session(2)
        channel = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER, party=Party(digits="1"))
        call = await finished(channel)
    assert call.status == "completed"


async def test_say_plays_speech_rendered_by_espeak_from_our_url(sim: AriSimulator, project: Project) -> None:
    from fastsock.core.testing import skip_or_fail, system_parts_required
    from telecom import tts

    if not tts.available():
        skip_or_fail("espeak-ng is not installed (apt-get install espeak-ng)", required=system_parts_required())
    await sync_to_async(make_flow)(project, {"steps": [{"say": {"text": "Welcome to the clinic."}}, {"hangup": {}}]})
    async with running(sim):
        channel = sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER)
        await finished(channel)

    [media] = plays(sim, channel)
    prefix = "sound:" + tts.audio_url("0" * 64).rsplit("/", 1)[0] + "/"
    assert media.startswith(prefix)
    digest = media.removeprefix(prefix).removesuffix(".wav")
    rendered = await sync_to_async(tts.open_rendered)(digest)
    assert rendered is not None
    with rendered, wave.open(rendered) as speech:
        assert (speech.getframerate(), speech.getnchannels()) == (8000, 1)
        assert speech.getnframes() > 8000 * 0.5  # at least half a second of speech


async def test_the_periodic_probe_marks_a_trunk_whose_asterisk_stops_answering(
    sim: AriSimulator, project: Project
) -> None:
    from telecom.tasks import check_connectors

    assert await sync_to_async(check_connectors)() == 2
    sim.go_down()
    assert await sync_to_async(check_connectors)() == 0
    health = await sync_to_async(lambda: dict(Connector.objects.values_list("name", "healthy")))()
    assert health == {"trunk-a": False, "trunk-b": False}
    sim.come_back()
    assert await sync_to_async(check_connectors)() == 2


# The project ends calls.


async def end_call(project: Project, call: VoiceCall, status: str) -> tuple[int, dict[str, Any]]:
    from fastsock.core.testing import api_client_for
    from telecom.models import ProjectMember

    def post() -> tuple[int, dict[str, Any]]:
        from accounts.models import User

        owner, created = User.objects.get_or_create(username=f"owner{project.pk}")
        if created:
            ProjectMember.objects.create(project=project, user=owner, role="owner")
        response = api_client_for(owner).post(f"/v1/calls/{call.sid}", {"status": status}, format="json")
        return response.status_code, response.json()

    return await sync_to_async(post)()


async def test_a_ringing_call_can_be_canceled_and_stops_ringing(
    sim: AriSimulator, project: Project, settings: Any
) -> None:
    settings.TELECOM_CALL_RING_SECONDS = 3000
    sim.script(CALLEE, Party(ring_seconds=1000))
    async with running(sim):
        call = await place(project, {"steps": [{"hangup": {}}]})
        call = await until_call(lambda c: c.status == "ringing", "ringing", pk=call.pk)
        status, shown = await end_call(project, call, "canceled")
        assert (status, shown["status"]) == (200, "canceled")
        await sim.wait_for_event_async("ChannelDestroyed", channel_id=call.channel_id, timeout=DEADLINE)
    call = await call_of(pk=call.pk)
    assert call.status == "canceled"
    assert call.answered_at is None


async def test_a_call_in_progress_is_hung_up_on_request_and_completes(sim: AriSimulator, project: Project) -> None:
    sim.script(CALLEE, Party(ring_seconds=0.2))
    async with running(sim):
        call = await place(project, {"steps": [{"pause": {"seconds": 60}}, {"hangup": {}}]})
        call = await until_call(lambda c: c.status == "in-progress", "answered", pk=call.pk)
        refused, _ = await end_call(project, call, "canceled")
        assert refused == 409
        status, _ = await end_call(project, call, "completed")
        assert status == 200
        call = await until_call(lambda c: c.status in voice.TERMINAL, "ended", pk=call.pk)
    assert call.status == "completed"
    assert call.hangup_cause == 16
