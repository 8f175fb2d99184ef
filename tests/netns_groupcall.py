"""A group call of three Chromium pages through a real Janus, inside a private network namespace.

Run by tests/test_browser_calls.py as ``unshare -n python tests/netns_groupcall.py <folder>``.
Janus never offers loopback candidates, so the namespace gets a veth pair of its own
(10.99.0.1 and 10.99.0.2, no route anywhere else) and Janus is told to use only ``v0``.
Daphne (embedded default), Janus and Chromium all run in there. Prints one JSON line: per page,
how many other people's videos are playing and how many frames they showed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
for variable in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
    os.environ.pop(variable, None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastsock.settings.test")
os.environ.setdefault("SECRET_KEY", "netns-group-call-test")

import django  # noqa: E402

django.setup()

from fastsock.core.testing import stop_process  # noqa: E402
from tests.browser import CALL_ARGS, chromium_browser, screenshot  # noqa: E402
from tests.browser_calls import log_in  # noqa: E402
from tests.janus import start_janus  # noqa: E402
from tests.servers import daphne_server  # noqa: E402

REMOTE_VIDEOS = """() => [...document.querySelectorAll('#group-grid figure:not(.mine) video')]
    .filter((video) => video.videoWidth > 0)
    .map((video) => video.getVideoPlaybackQuality().totalVideoFrames)"""


def private_network() -> None:
    for command in (
        "ip link set lo up",
        "ip link add v0 type veth peer name v1",
        "ip addr add 10.99.0.1/24 dev v0",
        "ip addr add 10.99.0.2/24 dev v1",
        "ip link set v0 up",
        "ip link set v1 up",
    ):
        subprocess.run(command.split(), check=True)


def main(folder: Path) -> None:
    private_network()
    (folder / "janus").mkdir(parents=True, exist_ok=True)
    janus = start_janus(folder / "janus", ice_interface="v0")
    try:
        env = {
            "JANUS_URL": janus.url,
            "JANUS_PUBLIC_URL": janus.url,
            "JANUS_ADMIN_URL": janus.admin_url,
            "JANUS_ADMIN_SECRET": janus.admin_secret,
            "JANUS_VIDEOROOM_ADMIN_KEY": janus.admin_key,
        }
        with chromium_browser(extra_args=CALL_ARGS) as browser, daphne_server(folder, extra_env=env) as server:
            demo = json.loads(server.manage("seed_demo", "--allow-production").strip())
            room = demo["group_room"]
            pages = {
                name: log_in(browser, server.base_url, name, demo["password"]) for name in ("alice", "bob", "carol")
            }
            for page in pages.values():
                page.locator(f'#room-list a.room[data-room-id="{room}"]').click()
                page.wait_for_function(f"() => window.fastsock.views.get({room})?.loaded")
                page.get_by_role("button", name="Join the group call").click()
                page.get_by_role("region", name="Group call").wait_for()
            seen = {}
            deadline = time.monotonic() + 40
            for name, page in pages.items():
                while True:
                    frames = page.evaluate(REMOTE_VIDEOS)
                    if len(frames) >= 2 and min(frames) >= 10:
                        break
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{name} sees {frames}:\n{janus.log_file.read_text()[-3000:]}")
                    page.wait_for_timeout(250)  # polling the condition, bounded by the deadline
                seen[name] = frames
            screenshot(pages["carol"], "group-call")
            banner_before = pages["alice"].evaluate("() => window.fastsock.groupCalls.active !== null")
            pages["carol"].get_by_role("button", name="Leave call").click()
            pages["alice"].wait_for_function(
                "() => document.querySelectorAll('#group-grid figure:not(.mine)').length === 1"
            )
            print(json.dumps({"frames": seen, "alice_in_call": banner_before}))
    finally:
        stop_process(janus.process, grace_seconds=10)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
