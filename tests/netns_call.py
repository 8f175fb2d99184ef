"""A direct 1:1 video call between two Chromium pages, run inside a private network namespace.

Run by tests/test_browser_calls.py as ``unshare -n python tests/netns_call.py <folder>``: the
namespace has only its own loopback, so host candidates can be nothing but 127.0.0.1 and no
media can reach any other address. Daphne runs in there too, on the embedded default (the
host's PostgreSQL and Redis are outside). Prints one JSON line with both pages' stats.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
for variable in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
    os.environ.pop(variable, None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastsock.settings.test")
os.environ.setdefault("SECRET_KEY", "netns-call-test")

import django  # noqa: E402

django.setup()

from tests.browser import CALL_ARGS, chromium_browser, screenshot  # noqa: E402
from tests.browser_calls import call_and_answer, log_in, media_arrives  # noqa: E402
from tests.servers import daphne_server  # noqa: E402


def main(folder: Path) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with chromium_browser(extra_args=CALL_ARGS) as browser, daphne_server(folder) as server:
        demo = json.loads(server.manage("seed_demo", "--allow-production").strip())
        alice = log_in(browser, server.base_url, "alice", demo["password"])
        bob = log_in(browser, server.base_url, "bob", demo["password"])
        call_and_answer(alice, bob, demo["direct_room"])
        stats = {"alice": media_arrives(alice), "bob": media_arrives(bob)}
        screenshot(bob, "call-direct")
        alice.get_by_role("button", name="Hang up").click()
        bob.get_by_role("status").filter(has_text="Call ended").wait_for()
        print(json.dumps(stats))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
