"""A 1:1 video call through the web chat in two real Chromium pages: through a real coturn
(relay only) here, and directly inside a network namespace of the test's own (see below)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fastsock.core.testing import skip_or_fail, system_parts_required
from tests.browser import CALL_ARGS, CHROMIUM, CHROMIUM_ARGS, chromium_browser, require_chromium, screenshot
from tests.browser_calls import call_and_answer, log_in, media_arrives
from tests.coturn import running_coturn
from tests.servers import daphne_server

pytestmark = pytest.mark.system


def test_a_video_call_relayed_through_coturn_connects_and_carries_video(tmp_path):
    with (
        running_coturn(tmp_path / "coturn") as coturn,
        chromium_browser(extra_args=CALL_ARGS) as browser,
        daphne_server(
            tmp_path / "server",
            extra_env={
                "TURN_URLS": coturn.turn_url,
                "TURN_SHARED_SECRET": coturn.secret,
                # Relay only: every packet goes through coturn on 127.0.0.1, none host to host.
                "CALL_ICE_TRANSPORT_POLICY": "relay",
            },
        ) as server,
    ):
        demo = json.loads(server.manage("seed_demo", "--allow-production").strip())
        alice = log_in(browser, server.base_url, "alice", demo["password"])
        bob = log_in(browser, server.base_url, "bob", demo["password"])
        call_and_answer(alice, bob, demo["direct_room"])
        for page in (alice, bob):
            stats = media_arrives(page)
            assert stats["localType"] == "relay", stats
            assert stats["localAddress"] == stats["remoteAddress"] == "127.0.0.1", stats
        alice.get_by_role("status").filter(has_text=re.compile(r"^\d\d:\d\d$")).wait_for()
        screenshot(alice, "call-connected")
        screenshot(bob, "call-connected-callee")
        bob.get_by_role("button", name="Mute").click()
        assert bob.evaluate("() => window.fastsock.calls.current.local.getAudioTracks()[0].enabled") is False
        alice.get_by_role("button", name="Hang up").click()
        bob.get_by_role("status").filter(has_text="Call ended").wait_for()
        bob.get_by_role("region", name="Call").wait_for(state="hidden")
        bob.get_by_text(re.compile(r"^Video call · \d+ s$")).wait_for()
        history = alice.evaluate("async () => (await fetch('/api/v1/calls').then((r) => r.json())).results[0]")
        assert history["outcome"] == "completed"
        assert history["duration_seconds"] is not None
        assert [step["kind"] for step in history["timeline"]] == ["invited", "ringing", "accepted", "ended"]


def test_a_direct_video_call_connects_host_to_host_inside_a_private_network(tmp_path):
    """Without TURN the pages connect host to host. Chromium would also offer the machine's
    other addresses, so the whole test (server and browser) runs in a network namespace of its
    own that has only loopback: media cannot go anywhere but 127.0.0.1."""
    if not (shutil.which("unshare") and shutil.which("ip")) or os.geteuid() != 0:
        skip_or_fail("needs root with unshare and ip (util-linux, iproute2)", required=system_parts_required())
    require_chromium()
    script = Path(__file__).with_name("netns_call.py")
    result = subprocess.run(
        ["unshare", "-n", sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    for side in ("alice", "bob"):
        assert stats[side]["framesDecoded"] >= 10, stats
        assert stats[side]["localType"] == "host", stats
        assert stats[side]["localAddress"] == stats[side]["remoteAddress"] == "127.0.0.1", stats


def test_a_group_call_of_three_pages_through_janus_shows_everyone_to_everyone(tmp_path):
    """Each page joins through FastSock (a Janus token) and publishes; each must play the other
    two people's video. Janus needs a non-loopback interface: the test makes a private one."""
    if not (shutil.which("unshare") and shutil.which("ip")) or os.geteuid() != 0:
        skip_or_fail("needs root with unshare and ip (util-linux, iproute2)", required=system_parts_required())
    if shutil.which("janus") is None:
        skip_or_fail("needs Janus (apt-get install janus)", required=system_parts_required())
    require_chromium()
    script = Path(__file__).with_name("netns_groupcall.py")
    result = subprocess.run(
        ["unshare", "-n", sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for name in ("alice", "bob", "carol"):
        assert len(report["frames"][name]) == 2, report
        assert min(report["frames"][name]) >= 10, report


@pytest.fixture(scope="module")
def call_server(tmp_path_factory):
    with daphne_server(tmp_path_factory.mktemp("calls"), extra_env={"CALL_RING_TIMEOUT_SECONDS": "3"}) as server:
        server.demo = json.loads(server.manage("seed_demo", "--allow-production").strip())
        yield server


@pytest.fixture(scope="module")
def call_browser():
    with chromium_browser(extra_args=CALL_ARGS) as browser:
        yield browser


def test_the_caller_is_told_at_once_when_the_other_person_is_offline(call_browser, call_server):
    demo = call_server.demo
    alice = log_in(call_browser, call_server.base_url, "alice", demo["password"])
    alice.locator(f'#room-list a.room[data-room-id="{demo["direct_room"]}"]').click()
    alice.get_by_role("button", name="Start a voice call").click()
    alice.get_by_role("status").filter(has_text="Bob Builder is offline — they will see a missed call").wait_for()
    screenshot(alice, "call-offline")
    alice.get_by_role("region", name="Call").wait_for(state="hidden")
    alice.context.close()


def test_declined_and_unanswered_calls_say_so_on_both_sides(call_browser, call_server):
    demo = call_server.demo
    alice = log_in(call_browser, call_server.base_url, "alice", demo["password"])
    bob = log_in(call_browser, call_server.base_url, "bob", demo["password"])
    alice.locator(f'#room-list a.room[data-room-id="{demo["direct_room"]}"]').click()
    alice.get_by_role("button", name="Start a video call").click()
    ringing = bob.get_by_role("dialog").filter(has_text="Incoming video call")
    ringing.wait_for()
    screenshot(bob, "call-incoming")
    ringing.get_by_role("button", name="Decline").click()
    alice.get_by_role("status").filter(has_text="Bob Builder declined the call").wait_for()
    alice.get_by_role("region", name="Call").wait_for(state="hidden")

    alice.get_by_role("button", name="Start a video call").click()
    ringing.wait_for()
    # Nobody answers: after CALL_RING_TIMEOUT_SECONDS both sides stop, and Bob has a missed call.
    alice.get_by_role("status").filter(has_text="No answer").wait_for()
    ringing.wait_for(state="hidden")
    bob.locator(f'#room-list a.room[data-room-id="{demo["direct_room"]}"] .badge').wait_for()
    bob.locator(f'#room-list a.room[data-room-id="{demo["direct_room"]}"]').click()
    bob.get_by_text("Missed video call").last.wait_for()
    alice.context.close()
    bob.context.close()


def test_a_denied_camera_is_explained_instead_of_failing_silently(call_browser, call_server):
    # A second Chromium without the fake permission UI: it refuses the camera and microphone.
    browser = call_browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream"]
    )
    try:
        demo = call_server.demo
        alice = log_in(browser, call_server.base_url, "alice", demo["password"])
        calls_made = "async () => (await fetch('/api/v1/calls?limit=100').then((r) => r.json())).results.length"
        before = alice.evaluate(calls_made)
        alice.locator(f'#room-list a.room[data-room-id="{demo["direct_room"]}"]').click()
        alice.get_by_role("button", name="Start a video call").click()
        alice.get_by_role("status").filter(has_text="FastSock needs your microphone and camera for calls").wait_for()
        screenshot(alice, "call-permission-denied")
        assert alice.evaluate(calls_made) == before, "nobody was rung for a call that could not start"
    finally:
        browser.close()
