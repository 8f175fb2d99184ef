"""Driving a 1:1 call through the web chat's own UI in two pages, and checking media arrives."""

from __future__ import annotations

import re
import time
from typing import Any

CONNECTED = "() => window.fastsock.calls.current?.pc?.connectionState === 'connected'"
# Video frames decoded from the other side, and the ICE candidate type this side sends from.
MEDIA_STATS = """async () => {
    const pc = window.fastsock.calls.current.pc;
    const stats = [...(await pc.getStats()).values()];
    const videos = stats.filter((s) => s.type === "inbound-rtp" && s.kind === "video");
    const transport = stats.find((s) => s.type === "transport" && s.selectedCandidatePairId);
    const pair = transport && stats.find((s) => s.id === transport.selectedCandidatePairId);
    const local = pair && stats.find((s) => s.id === pair.localCandidateId);
    const remote = pair && stats.find((s) => s.id === pair.remoteCandidateId);
    return {
        framesDecoded: videos.reduce((sum, s) => sum + (s.framesDecoded || 0), 0),
        bytesReceived: videos.reduce((sum, s) => sum + (s.bytesReceived || 0), 0),
        localType: local ? local.candidateType : null,
        localAddress: local ? local.address : null,
        remoteAddress: remote ? remote.address : null,
    };
}"""


def log_in(browser: Any, base_url: str, username: str, password: str) -> Any:
    context = browser.new_context(base_url=base_url, viewport={"width": 1100, "height": 760})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: url.endswith("/") and "/login/" not in url)
    page.wait_for_function("() => window.fastsock && window.fastsock.socket.open")
    return page


def call_and_answer(caller: Any, callee: Any, room_id: int, *, media: str = "video") -> None:
    """The caller clicks the call button in the room header; the callee accepts the ringing dialog."""
    caller.locator(f'#room-list a.room[data-room-id="{room_id}"]').click()
    caller.wait_for_url(re.compile(rf"/r/{room_id}/$"))
    name = "Start a video call" if media == "video" else "Start a voice call"
    caller.get_by_role("button", name=name).click()
    caller.get_by_role("status").filter(has_text=re.compile("Calling|Ringing")).wait_for()
    dialog = callee.get_by_role("dialog")
    dialog.get_by_text("Incoming video call" if media == "video" else "Incoming voice call").wait_for()
    dialog.get_by_role("button", name="Accept").click()
    for page in (caller, callee):
        page.wait_for_function(CONNECTED)


def media_arrives(page: Any, *, frames: int = 10, timeout: float = 20) -> dict[str, Any]:
    """Wait until the page has decoded ``frames`` video frames from the other side; its stats."""
    deadline = time.monotonic() + timeout
    while (stats := page.evaluate(MEDIA_STATS))["framesDecoded"] < frames:
        assert time.monotonic() < deadline, f"no video arrived: {stats}"
        page.wait_for_timeout(200)  # polling the condition, bounded by the deadline
    page.wait_for_function("() => document.getElementById('remote-video').videoWidth > 0")
    return stats
