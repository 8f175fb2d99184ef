"""The ARI adapter (telecom/ari.py) against the ARI simulator: calls, events, errors, secrets."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import wave
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from fastsock.core.testing import free_port
from telecom.ari import AriClient, AriConflict, AriError, AriNotFound, AriUnauthorized, AriUnavailable
from tests.ari_simulator import AriSimulator, Party, channel_of, running_ari_simulator

pytestmark = pytest.mark.asyncio

DEADLINE = 5.0


@pytest.fixture
def sim() -> Iterator[AriSimulator]:
    with running_ari_simulator(time_scale=0.01) as simulator:
        yield simulator
        assert simulator.errors == []


def connect(sim: AriSimulator, **overrides: Any) -> AbstractAsyncContextManager[AriClient]:
    options = {"url": sim.url, "app": sim.app, "username": sim.username, "password": sim.password, **overrides}
    return AriClient.connect(**options)


class Events:
    """Reads an adapter's events in order, waiting a bounded time for each one asked for."""

    def __init__(self, ari: AriClient) -> None:
        self._stream: AsyncIterator[dict[str, Any]] = ari.events()
        self.seen: list[dict[str, Any]] = []

    async def until(self, event_type: str, *, channel_id: str | None = None) -> dict[str, Any]:
        async with asyncio.timeout(DEADLINE):
            async for event in self._stream:
                self.seen.append(event)
                if event["type"] == event_type and channel_id in (None, channel_of(event)):
                    return event
        raise AssertionError(f"the events ended before {event_type}; saw {[e['type'] for e in self.seen]}")

    async def to_the_end(self) -> list[dict[str, Any]]:
        async with asyncio.timeout(DEADLINE):
            self.seen.extend([event async for event in self._stream])
        return self.seen

    def types(self, channel_id: str | None = None) -> list[str]:
        return [e["type"] for e in self.seen if channel_id in (None, channel_of(e))]


async def test_connect_reads_the_description_then_opens_the_events_socket_with_basic_auth(sim: AriSimulator) -> None:
    async with connect(sim) as ari:
        info = await ari.info()

    assert info["system"]["version"].startswith("22.")
    paths = [request.path for request in sim.requests]
    assert paths[0] == "/ari/api-docs/resources.json"
    assert "/ari/api-docs/events.json" in paths
    websocket = next(request for request in sim.requests if request.path == "/ari/events")
    assert websocket.status == 101
    assert websocket.query == {"app": ["fastsock"]}
    assert {request.auth for request in sim.requests} == {"basic"}


async def test_events_arrive_in_order_as_the_raw_json_asterisk_sent(sim: AriSimulator) -> None:
    sim.script("+15551230001", Party(ring_seconds=2))
    async with connect(sim) as ari:
        events = Events(ari)
        channel = await ari.originate(
            endpoint="PJSIP/+15551230001@trunk-a",
            channel_id="call-1",
            app_args="dialed,call-1",
            caller_id="+14155550100",
        )
        start = await events.until("StasisStart")
        await ari.hangup("call-1")
        await events.until("ChannelDestroyed")

    assert channel["id"] == "call-1"
    assert channel["state"] == "Down"
    assert channel["caller"]["number"] == "+14155550100"
    assert start["args"] == ["dialed", "call-1"]
    assert start["channel"]["state"] == "Up"
    assert events.types() == [
        "Dial",
        "ChannelStateChange",
        "Dial",
        "Dial",
        "ChannelStateChange",
        "StasisStart",
        "ChannelHangupRequest",
        "StasisEnd",
        "ChannelDestroyed",
    ]
    assert [e["dialstatus"] for e in events.seen if e["type"] == "Dial"] == ["", "RINGING", "ANSWER"]
    assert events.seen == [e for e in sim.events if e["application"] == "fastsock"]


async def test_originating_the_same_channel_id_twice_conflicts(sim: AriSimulator) -> None:
    sim.script("+15551230002", Party(outcome="no_answer"))
    async with connect(sim) as ari:
        await ari.originate(endpoint="PJSIP/+15551230002@trunk-a", channel_id="call-2", timeout=-1)
        with pytest.raises(AriConflict) as conflict:
            await ari.originate(endpoint="PJSIP/+15551230002@trunk-a", channel_id="call-2", timeout=-1)

    assert conflict.value.status == 409
    assert len([e for e in sim.events if e["type"] == "Dial" and e["dialstatus"] == ""]) == 1


@pytest.mark.parametrize(
    ("party", "target", "dialstatus", "cause"),
    [
        (Party(outcome="busy"), "+15551230003", "BUSY", 17),
        (Party(outcome="no_answer"), "+15551230004", "NOANSWER", 19),
        (Party(outcome="unavailable", ring_seconds=0), "@trunk-down", "CHANUNAVAIL", 38),
        (Party(outcome="congestion", ring_seconds=0), "@trunk-full", "CONGESTION", 34),
    ],
)
async def test_an_unanswered_call_ends_with_its_dialstatus_and_cause(
    sim: AriSimulator, party: Party, target: str, dialstatus: str, cause: int
) -> None:
    sim.script(target, party)
    endpoint = f"PJSIP/+15551230005{target}" if target.startswith("@") else f"PJSIP/{target}@trunk-a"
    async with connect(sim) as ari:
        events = Events(ari)
        await ari.originate(endpoint=endpoint, channel_id="call-3", timeout=3)
        destroyed = await events.until("ChannelDestroyed", channel_id="call-3")
        with pytest.raises(AriNotFound):
            await ari.get_channel("call-3")

    assert destroyed["cause"] == cause
    assert "StasisStart" not in events.types()
    assert [e["dialstatus"] for e in events.seen if e["type"] == "Dial"][-1] == dialstatus


async def test_an_inbound_caller_is_answered_presses_digits_and_hangs_up(sim: AriSimulator) -> None:
    async with connect(sim) as ari:
        events = Events(ari)
        channel_id = sim.inbound_call(
            caller="+4915112345678",
            dialed="+14155550100",
            args=["inbound"],
            party=Party(digits="12#", digits_after=0.5, digit_gap=(0.2, 1.0), hangup_after=3),
        )
        start = await events.until("StasisStart")
        await ari.answer(channel_id)
        destroyed = await events.until("ChannelDestroyed")

    assert start["channel"]["state"] == "Ring"
    assert start["channel"]["caller"]["number"] == "+4915112345678"
    assert start["channel"]["dialplan"]["exten"] == "+14155550100"
    assert start["args"] == ["inbound"]
    assert [e["digit"] for e in events.seen if e["type"] == "ChannelDtmfReceived"] == ["1", "2", "#"]
    assert events.types()[-3:] == ["ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"]
    assert destroyed["cause"] == 16
    assert destroyed["cause_txt"] == "Normal Clearing"


async def test_playbacks_queue_per_channel_and_stop_on_request(sim: AriSimulator) -> None:
    sim.media_seconds["sound:long-menu"] = 600
    async with connect(sim) as ari:
        events = Events(ari)
        channel_id = sim.inbound_call(caller="+4915112345678", dialed="+14155550100")
        await events.until("StasisStart")
        await ari.answer(channel_id)
        first = await ari.play(channel_id, media=["sound:hello", "digits:42"], playback_id="pb-1", lang="de")
        await ari.play(channel_id, media=["sound:long-menu"], playback_id="pb-2")
        finished = await events.until("PlaybackFinished")
        await events.until("PlaybackStarted")
        await ari.stop_playback("pb-2")
        stopped = await events.until("PlaybackFinished")
        with pytest.raises(AriNotFound):
            await ari.stop_playback("pb-2")

    assert first == {
        "id": "pb-1",
        "media_uri": "sound:hello",
        "next_media_uri": "digits:42",
        "target_uri": f"channel:{channel_id}",
        "language": "de",
        "state": "queued",
    }
    assert finished["playback"]["id"] == "pb-1"
    assert (await sim.wait_for_event_async("PlaybackFinished", channel_id=channel_id))["playback"]["id"] == "pb-1"
    assert stopped["playback"]["id"] == "pb-2"
    assert [e["type"] for e in events.seen if e["type"].startswith("Playback")] == [
        "PlaybackStarted",
        "PlaybackContinuing",
        "PlaybackFinished",
        "PlaybackStarted",
        "PlaybackFinished",
    ]


async def test_a_dialled_callee_is_bridged_recorded_and_the_file_fetched(sim: AriSimulator) -> None:
    sim.script("+15551230006", Party(ring_seconds=1))
    async with connect(sim) as ari:
        events = Events(ari)
        caller = sim.inbound_call(caller="+4915112345678", dialed="+14155550100")
        await events.until("StasisStart", channel_id=caller)
        await ari.answer(caller)
        callee = await ari.create_channel(
            endpoint="PJSIP/+15551230006@trunk-a", channel_id="leg-b", app_args="dialed,leg-b", originator=caller
        )
        await events.until("StasisStart", channel_id="leg-b")
        bridge = await ari.create_bridge("bridge-1")
        await ari.add_to_bridge("bridge-1", [caller, "leg-b"])
        await ari.dial("leg-b", caller=caller, timeout=30)
        await events.until("ChannelStateChange", channel_id="leg-b")  # Ringing
        answered = await events.until("ChannelStateChange", channel_id="leg-b")
        recording = await ari.record_bridge("bridge-1", name="calls/rec-1", max_seconds=3600, beep=False)
        await events.until("RecordingStarted")
        await ari.stop_recording("calls/rec-1")
        finished = await events.until("RecordingFinished")
        audio = await ari.stored_recording_file("calls/rec-1")
        await ari.delete_stored_recording("calls/rec-1")
        with pytest.raises(AriNotFound):
            await ari.stored_recording_file("calls/rec-1")
        await ari.destroy_bridge("bridge-1")
        await events.until("BridgeDestroyed")
        with pytest.raises(AriNotFound):
            await ari.destroy_bridge("bridge-1")

    assert callee["state"] == "Down"
    assert bridge["bridge_type"] == "mixing"
    assert bridge["channels"] == []
    assert answered["channel"]["state"] == "Up"
    dials = [e for e in events.seen if e["type"] == "Dial"]
    assert [e["dialstatus"] for e in dials] == ["", "RINGING", "ANSWER"]
    assert all("caller" not in e for e in dials)  # Asterisk names no caller in /dial's Dial events
    assert answered["channel"]["connected"]["number"] == "+4915112345678"  # the caller's id, lent
    assert recording["target_uri"] == "bridge:bridge-1"
    assert finished["recording"]["state"] == "done"
    with wave.open(io.BytesIO(audio)) as wav:
        assert wav.getframerate() == 8000
        assert wav.getnchannels() == 1
    assert events.types().count("ChannelEnteredBridge") == 2
    assert events.types().count("ChannelLeftBridge") == 2


async def test_a_channel_recording_ends_on_the_terminating_digit(sim: AriSimulator) -> None:
    async with connect(sim) as ari:
        events = Events(ari)
        channel_id = sim.inbound_call(caller="+4915112345678", dialed="+14155550100")
        await events.until("StasisStart")
        await ari.answer(channel_id)
        await ari.record_channel(channel_id, name="voicemail-1", max_seconds=120, beep=True, terminate_on="#")
        await events.until("RecordingStarted")
        sim.press(channel_id, "5#", gap=2)
        finished = await events.until("RecordingFinished")

    assert finished["recording"]["state"] == "done"
    assert finished["recording"]["duration"] >= 2
    assert "voicemail-1" in sim.stored_recordings()
    assert [e["digit"] for e in events.seen if e["type"] == "ChannelDtmfReceived"] == ["5", "#"]


async def test_answer_hangup_and_get_of_an_unknown_channel_are_not_found(sim: AriSimulator) -> None:
    async with connect(sim) as ari:
        for call in (ari.answer("nope"), ari.hangup("nope"), ari.get_channel("nope")):
            with pytest.raises(AriNotFound) as missing:
                await call
            assert missing.value.status == 404
            assert "Channel not found" in missing.value.message


async def test_refusals_keep_their_status_as_a_plain_ari_error(sim: AriSimulator) -> None:
    async with connect(sim) as ari:
        events = Events(ari)
        await ari.create_channel(endpoint="PJSIP/+15551230007@trunk-a", channel_id="leg-c")
        await events.until("StasisStart")
        refusals = []
        for call in (
            ari.answer("leg-c"),  # not ringing in: 412
            ari.hangup("leg-c", reason="because"),  # not one of ARI's reasons: 400
            ari.record_channel("leg-c", name="x", max_seconds=1, beep=False, format="mp3"),  # 422
        ):
            with pytest.raises(AriError) as refused:
                await call
            refusals.append(refused.value)

    assert [(type(error), error.status) for error in refusals] == [(AriError, 412), (AriError, 400), (AriError, 422)]


async def test_a_server_error_is_unavailable(sim: AriSimulator) -> None:
    sim.fail_next("getInfo", status=503, message="Asterisk is shutting down")
    async with connect(sim) as ari:
        with pytest.raises(AriUnavailable) as unavailable:
            await ari.info()
        assert (await ari.info())["system"]

    assert unavailable.value.status == 503
    assert "Asterisk is shutting down" in unavailable.value.message


async def test_asterisk_going_away_makes_calls_unavailable_and_ends_the_events(sim: AriSimulator) -> None:
    async with connect(sim) as ari:
        sim.go_down()
        with pytest.raises(AriUnavailable) as unavailable:
            await ari.info()
        assert await Events(ari).to_the_end() == []

    assert unavailable.value.status is None


async def test_connecting_to_nothing_is_unavailable() -> None:
    with pytest.raises(AriUnavailable):
        async with AriClient.connect(url=f"http://127.0.0.1:{free_port()}", app="fastsock", username="u", password="p"):
            pass


async def test_wrong_credentials_are_refused_at_connect(sim: AriSimulator) -> None:
    with pytest.raises(AriUnauthorized) as refused:
        async with connect(sim, password="wrong-password"):
            pass

    assert refused.value.status == 401
    assert [request.status for request in sim.requests] == [401]


async def test_a_refused_events_socket_is_unavailable(sim: AriSimulator) -> None:
    sim.refuse_websockets = True
    with pytest.raises(AriUnavailable) as refused:
        async with connect(sim):
            pass

    assert refused.value.status == 503


async def test_a_dropped_websocket_ends_events_and_a_new_connection_gets_them_again(sim: AriSimulator) -> None:
    async with connect(sim) as ari:
        sim.wait_for(lambda: sim.websocket_count == 1, what="the events socket")
        sim.drop_websockets()
        assert await Events(ari).to_the_end() == []
        assert (await ari.info())["system"]  # REST does not need the websocket

    async with connect(sim) as ari:
        events = Events(ari)
        channel_id = sim.inbound_call(caller="+4915112345678", dialed="+14155550100")
        start = await events.until("StasisStart")

    assert start["channel"]["id"] == channel_id


async def test_an_error_in_the_body_comes_out_as_itself(sim: AriSimulator) -> None:
    with pytest.raises(AriNotFound):
        async with connect(sim) as ari:
            await ari.get_channel("gone")
    with pytest.raises(LookupError, match="the orchestrator's own"):
        async with connect(sim):
            raise LookupError("the orchestrator's own")


async def test_arguments_the_adapter_refuses_before_asking() -> None:
    with pytest.raises(ValueError, match="http"):
        async with AriClient.connect(url="asterisk:8088", app="fastsock", username="u", password="p"):
            pass


async def test_no_credential_reaches_a_log_line_or_an_error(
    sim: AriSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    messages = []
    async with connect(sim) as ari:
        await ari.info()
        sim.fail_next("getInfo", status=500)
        for call in (ari.info(), ari.get_channel("nope")):
            with pytest.raises(AriError) as failed:
                await call
            messages.append(str(failed.value))
        sim.drop_websockets()
        await Events(ari).to_the_end()
    with pytest.raises(AriUnauthorized) as refused:
        async with connect(sim, password="another-wrong-secret"):
            pass
    messages.append(str(refused.value))

    token = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
    everything = caplog.text + "\n".join(messages)
    assert "HTTP Request: GET" in caplog.text  # httpx did log its requests
    for secret in (sim.password, "another-wrong-secret", token, "api_key"):
        assert secret not in everything


async def test_a_rest_only_client_originates_into_the_app_it_is_given(sim: AriSimulator) -> None:
    sim.script("+15551230008", Party(ring_seconds=1))
    async with connect(sim) as ari:
        events = Events(ari)
        async with AriClient.rest(url=sim.url, username=sim.username, password=sim.password) as rest:
            channel = await rest.originate(endpoint="PJSIP/+15551230008@trunk-a", channel_id="call-4", app="fastsock")
            with pytest.raises(ValueError, match="app"):
                await rest.originate(endpoint="PJSIP/+15551230008@trunk-a", channel_id="call-5")
            with pytest.raises(RuntimeError, match="connect"):
                await anext(rest.events())
        start = await events.until("StasisStart")

    assert channel["id"] == start["channel"]["id"] == "call-4"
    assert sum(request.path == "/ari/events" for request in sim.requests) == 1


async def test_a_rest_only_client_fails_like_a_connected_one(sim: AriSimulator) -> None:
    with pytest.raises(AriUnauthorized):
        async with AriClient.rest(url=sim.url, username=sim.username, password="wrong-password"):
            pass
    with pytest.raises(AriUnavailable):
        async with AriClient.rest(url=f"http://127.0.0.1:{free_port()}", username="u", password="p"):
            pass
