"""The ARI simulator's own rules, seen over plain HTTP and websocket clients (not the adapter)."""

from __future__ import annotations

import base64
import io
import json
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.ari_simulator import AriSimulator, Party, running_ari_simulator, wav_bytes

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sim() -> Iterator[AriSimulator]:
    with running_ari_simulator(time_scale=0.01) as simulator:
        yield simulator
        assert simulator.errors == []


def rest(sim: AriSimulator) -> httpx.Client:
    return httpx.Client(base_url=f"{sim.url}/ari", auth=(sim.username, sim.password), timeout=5)


def events_socket(sim: AriSimulator, app: str = "fastsock") -> ClientConnection:
    token = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
    return connect(
        f"ws://127.0.0.1:{sim.port}/ari/events?app={app}",
        additional_headers={"Authorization": f"Basic {token}"},
        open_timeout=5,
    )


def test_api_key_authenticates_like_basic_and_stays_out_of_the_log(sim: AriSimulator) -> None:
    key = f"{sim.username}:{sim.password}"
    accepted = httpx.get(f"{sim.url}/ari/asterisk/ping", params={"api_key": key})
    refused = httpx.get(f"{sim.url}/ari/asterisk/ping", params={"api_key": f"{sim.username}:wrong"})
    anonymous = httpx.get(f"{sim.url}/ari/asterisk/ping")

    assert accepted.status_code == 200
    assert accepted.json()["ping"] == "pong"
    assert (refused.status_code, anonymous.status_code) == (401, 401)
    assert refused.headers["WWW-Authenticate"].startswith("Basic")
    assert [(r.auth, r.query) for r in sim.requests] == [("api_key", {}), (None, {}), (None, {})]


def test_a_bad_parameter_is_a_400_that_names_it(sim: AriSimulator) -> None:
    with rest(sim) as client:
        answers = {
            "unknown": client.post("/channels", params={"endpoint": "PJSIP/1@t", "app": "fastsock", "bogus": "1"}),
            "missing": client.post("/channels", params={"app": "fastsock"}),
            "not an int": client.post("/channels", params={"endpoint": "PJSIP/1@t", "app": "fastsock", "timeout": "x"}),
            "not allowed": client.post("/bridges/b/record", params={"name": "n", "format": "wav", "ifExists": "maybe"}),
            "bad endpoint": client.post("/channels", params={"endpoint": "nowhere", "app": "fastsock"}),
        }

    assert {what: answer.status_code for what, answer in answers.items()} == dict.fromkeys(answers, 400)
    assert "bogus" in answers["unknown"].json()["message"]
    assert "endpoint" in answers["missing"].json()["message"]
    assert "timeout" in answers["not an int"].json()["message"]
    assert "ifExists" in answers["not allowed"].json()["message"]


def test_unknown_paths_are_404_and_wrong_methods_405(sim: AriSimulator) -> None:
    with rest(sim) as client:
        assert client.get("/nothing/here").status_code == 404
        assert client.put("/channels").status_code == 405
        assert client.get("/api-docs/sounds.json").status_code == 404


def test_the_served_description_points_at_the_simulator(sim: AriSimulator) -> None:
    with rest(sim) as client:
        listing = client.get("/api-docs/resources.json").json()
        channels = client.get("/api-docs/channels.json").json()

    assert listing["basePath"] == channels["basePath"] == f"{sim.url}/ari"
    assert {api["path"] for api in listing["apis"]} >= {"/api-docs/channels.{format}", "/api-docs/events.{format}"}


def test_a_second_websocket_for_an_app_replaces_the_first(sim: AriSimulator) -> None:
    with events_socket(sim) as first, events_socket(sim) as second:
        replaced = json.loads(first.recv(timeout=5))
        channel_id = sim.inbound_call(caller="+4915112345678", dialed="+14155550100")
        start = json.loads(second.recv(timeout=5))

    assert replaced["type"] == "ApplicationReplaced"
    assert replaced["application"] == "fastsock"
    assert (start["type"], start["channel"]["id"]) == ("StasisStart", channel_id)


def test_an_inbound_call_for_an_app_without_a_websocket_is_lost(sim: AriSimulator) -> None:
    channel_id = sim.inbound_call(caller="+4915112345678", dialed="+14155550100")

    assert sim.channel(channel_id) is None
    assert sim.events == []


def test_a_caller_left_ringing_hangs_up_after_abandon_after(sim: AriSimulator) -> None:
    with events_socket(sim):
        channel_id = sim.inbound_call(caller="+4915112345678", dialed="+14155550100", party=Party(abandon_after=2))
        destroyed = sim.wait_for_event("ChannelDestroyed", channel_id=channel_id)

    assert destroyed["cause"] == 16
    assert [e["type"] for e in sim.events] == ["StasisStart", "ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"]


def test_an_outage_closes_the_port_until_the_simulator_comes_back(sim: AriSimulator) -> None:
    with events_socket(sim) as socket:
        sim.wait_for(lambda: sim.websocket_count == 1, what="the events socket")
        sim.go_down()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{sim.url}/ari/asterisk/ping", auth=(sim.username, sim.password))
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=5)
    sim.come_back()

    assert httpx.get(f"{sim.url}/ari/asterisk/ping", auth=(sim.username, sim.password)).status_code == 200


@pytest.mark.parametrize(
    ("script", "complaint"),
    [
        ({"outcome": "maybe"}, "outcome"),
        ({"digits": "12x"}, "DTMF"),
        ({"digits": "123", "digit_gap": (0.1,)}, "gap"),
    ],
)
def test_a_party_refuses_a_script_it_cannot_play(script: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Party(**script)  # type: ignore[arg-type]


def test_digit_gaps_may_differ_per_digit() -> None:
    assert Party(digits="12#", digits_after=1, digit_gap=(0.5, 2)).digit_offsets() == [1, 1.5, 3.5]


def test_a_stored_recording_is_a_valid_wav_of_its_length() -> None:
    with wave.open(io.BytesIO(wav_bytes(1.5))) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
        assert audio.getnframes() == 12000


def test_only_the_adapter_imports_asyncari() -> None:
    importers = [
        path.relative_to(PROJECT).as_posix()
        for path in PROJECT.rglob("*.py")
        if ".venv" not in path.parts
        and any(
            line.lstrip().startswith((f"import {lib}", f"from {lib}"))
            for line in path.read_text(errors="replace").splitlines()
            for lib in ("asyncari", "asyncswagger11", "asyncwebsockets")
        )
    ]

    assert importers == ["telecom/ari.py"]
