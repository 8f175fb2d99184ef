"""Voice end to end, as it runs in production: a Daphne server, a Celery worker process on Redis,
the call orchestrator process (``manage.py run_call_orchestrator``) and the ARI simulator
standing in for Asterisk, PostgreSQL.

The operator sets up a trunk and a number with the management commands; a person makes a project,
an API key and a call flow over HTTP. ``POST /v1/calls`` → the worker originates through ARI →
the callee answers → the orchestrator runs the flow (speech rendered by espeak-ng, digits
gathered, a recording made) → ``completed`` with its whole timeline, the recording stored and
downloadable, the minutes in the usage, and signed status callbacks at every change. Inbound, a
call to the number runs its flow. No ARI password reaches any log.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import subprocess
import sys
import urllib.request
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fastsock.core.testing import skip_or_fail, stop_process, system_parts_required
from tests.ari_simulator import AriSimulator, Party, running_ari_simulator
from tests.servers import BASE_DIR, RunningServer, daphne_server
from tests.sms_gateways import CallbackRecorder, own_celery_queue, start_celery_worker
from tests.test_telecom_e2e import call, wait_until

pytestmark = [pytest.mark.system, pytest.mark.redis]

ARI_PASSWORD = "e2e-ari-password-8d1f0c"
WEBHOOK_SECRET = "e2e-voice-webhook-secret-5a7e"
OUR_NUMBER = "+14155550300"
CALLEE = "+14155550311"
CALLER = "+14155550322"
TIMEOUT = 45
FLOW = {
    "steps": [
        {
            "gather": {
                "num_digits": 1,
                "timeout": 3,
                "prompt": {"say": {"text": "Press one to leave a message."}},
                "branches": {"1": [{"record": {"max_seconds": 2, "beep": True}}]},
                "no_input": [{"say": {"text": "Goodbye."}}],
            }
        },
        {"pause": {"seconds": 1}},
        {"hangup": {}},
    ]
}


@dataclass(repr=False)  # the server's env holds the secrets
class VoiceStack:
    server: RunningServer
    sim: AriSimulator
    worker_log: Path
    orchestrator_log: Path
    status_callbacks: CallbackRecorder
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    api_key: str = ""
    signing_secret: str = ""
    flow_id: int = 0
    outputs: list[str] = field(default_factory=list)

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        return call(method, f"{self.server.base_url}{path}", body, headers={"Authorization": f"ApiKey {self.api_key}"})

    def logs(self) -> dict[str, str]:
        return {
            "daphne": self.server.logs(),
            "worker": self.worker_log.read_text(errors="replace"),
            "orchestrator": self.orchestrator_log.read_text(errors="replace"),
            "commands": "\n".join(self.outputs),
        }

    def wait(self, condition: Any, *, what: str) -> Any:
        def alive_and() -> Any:
            for process in self.processes:
                assert process.poll() is None, f"a process died:\n{self.logs()}"
            return condition()

        return wait_until(alive_and, what=what, timeout=TIMEOUT)

    def call_when(self, sid: str, done: Any) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            status, found = self.api("GET", f"/v1/calls/{sid}")
            assert status == 200, found
            return found if done(found) else None

        return self.wait(reached, what=f"call {sid}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoiceStack]:
    from telecom import tts

    if not tts.available():
        skip_or_fail("espeak-ng is not installed (apt-get install espeak-ng)", required=system_parts_required())
    tmp = tmp_path_factory.mktemp("voice-e2e")
    with running_ari_simulator(time_scale=0.05, password=ARI_PASSWORD) as sim:
        extra_env = {
            **own_celery_queue(),
            "LOG_LEVEL": "INFO",
            "ARI_URL": sim.url,
            "ARI_USERNAME": sim.username,
            "ARI_PASSWORD": ARI_PASSWORD,
            "ARI_APP": sim.app,
            "E2E_TRUNK_SECRET": WEBHOOK_SECRET,
            "TELECOM_CALLBACK_TIMEOUT_SECONDS": "5",
        }
        callbacks = CallbackRecorder(lambda _path: (200, "ok"))
        with daphne_server(tmp, extra_env=extra_env) as server:
            stack = VoiceStack(server, sim, tmp / "worker.log", tmp / "orchestrator.log", callbacks)
            stack.processes.append(start_celery_worker(server.env, stack.worker_log))
            stack.processes.append(start_orchestrator(server.env, stack.orchestrator_log))
            try:
                stack.wait(lambda: "ready" in stack.worker_log.read_text(errors="replace"), what="worker ready")
                stack.wait(lambda: sim.websocket_count == 1, what="the orchestrator's events socket")
                set_up(stack)
                yield stack
            finally:
                for process in stack.processes:
                    stop_process(process, grace_seconds=20)
                callbacks.close()


def start_orchestrator(env: dict[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    with log_file.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "run_call_orchestrator"], cwd=BASE_DIR, env=env, stdout=log, stderr=log
        )


def set_up(stack: VoiceStack) -> None:
    """The operator's trunk and number; a person's project, key and flow over HTTP."""
    from tests.test_telecom_e2e import PASSWORD, USERNAME, login

    base = stack.server.base_url
    output = stack.server.manage(
        "telecom_connector", "trunk-a", "--kind", "asterisk", "--url", stack.sim.url,
        "--username-env", "ARI_USERNAME", "--password-env", "ARI_PASSWORD",
        "--webhook-secret-env", "E2E_TRUNK_SECRET", "--allow", "127.0.0.1/32",
    )  # fmt: skip
    stack.outputs.append(output)
    assert call("POST", f"{base}/api/v1/auth/register", {"username": USERNAME, "password": PASSWORD})[0] == 201
    bearer = {"Authorization": f"Bearer {login(base)}"}
    status, project = call("POST", f"{base}/v1/projects", {"name": "Voice"}, headers=bearer)
    assert status == 201, project
    status, key = call("POST", f"{base}/v1/projects/{project['id']}/keys", {"name": "e2e"}, headers=bearer)
    assert status == 201, key
    stack.api_key = key["key"]
    stack.signing_secret = call("GET", f"{base}/v1/projects/{project['id']}", headers=bearer)[1]["signing_secret"]
    status, flow = stack.api("POST", "/v1/flows", {"name": "voicemail", "definition": FLOW})
    assert status == 201, flow
    stack.flow_id = flow["id"]
    output = stack.server.manage(
        "telecom_number", OUR_NUMBER, "--project", str(project["id"]), "--connector", "trunk-a",
        "--voice-flow", str(flow["id"]),
    )  # fmt: skip
    stack.outputs.append(output)


def signature_valid(secret: str, header: str, body: bytes) -> bool:
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(parts["v1"], expected)


def test_an_outbound_call_runs_its_flow_to_completed_with_timeline_recording_usage_and_callbacks(
    stack: VoiceStack,
) -> None:
    stack.sim.script(CALLEE, Party(ring_seconds=1, digits="1", digits_after=2))
    status, placed = stack.api(
        "POST",
        "/v1/calls",
        {"to": CALLEE, "flow_id": stack.flow_id, "status_callback": f"{stack.status_callbacks.base_url}/calls"},
    )
    assert status == 201, placed
    assert placed["status"] == "queued"
    sid = placed["sid"]

    done = stack.call_when(sid, lambda c: c["status"] not in ("queued", "ringing", "in-progress"))

    assert done["status"] == "completed", done
    assert done["duration"] >= 1
    kinds = [event["kind"] for event in done["events"]]
    for expected in ("created", "dial_attempt", "ringing", "answered", "step", "digits", "recording", "hangup"):
        assert expected in kinds, (expected, kinds)
    assert {"path": "$.steps[0]", "digits": "1"} in [e["data"] for e in done["events"] if e["kind"] == "digits"]
    [recording] = done["recordings"]
    assert recording["status"] == "stored"
    with urllib.request.urlopen(
        urllib.request.Request(recording["url"], headers={"Authorization": f"ApiKey {stack.api_key}"}), timeout=10
    ) as response, wave.open(io.BytesIO(response.read())) as audio:  # fmt: skip
        assert audio.getframerate() == 8000
    # Speech was rendered by espeak-ng and handed to Asterisk as a URL it can fetch from us.
    spoken = [m for r in stack.sim.requests if r.nickname == "playWithId" for m in r.query.get("media", [])]
    speech_url = next(m for m in spoken if "/telecom/tts/" in m).removeprefix("sound:")
    with urllib.request.urlopen(speech_url, timeout=10) as response:
        assert response.read(4) == b"RIFF"

    status, usage = stack.api("GET", "/v1/usage")
    assert status == 200
    assert usage["results"][-1]["call_minutes"] >= 1

    def statuses() -> list[str] | None:
        posts = [json.loads(c.body) for c in stack.status_callbacks.received if c.path == "/calls"]
        found = [p["status"] for p in posts if p["sid"] == sid]
        return found if "completed" in found else None

    assert stack.wait(statuses, what="the completed callback") == ["ringing", "in-progress", "completed"]
    for callback in stack.status_callbacks.received:
        assert signature_valid(stack.signing_secret, callback.headers["fastsock-signature"], callback.body)


def test_an_inbound_call_runs_the_numbers_flow(stack: VoiceStack) -> None:
    channel = stack.sim.inbound_call(caller=CALLER, dialed=OUR_NUMBER, party=Party(digits=""))

    def finished() -> dict[str, Any] | None:
        status, listed = stack.api("GET", "/v1/calls?limit=5")
        assert status == 200
        found = [c for c in listed["results"] if c["direction"] == "inbound" and c["from"] == CALLER]
        return found[0] if found and found[0]["status"] == "completed" else None

    done = stack.wait(finished, what="the inbound call to complete")
    assert done["to"] == OUR_NUMBER
    assert stack.sim.channel(channel) is None
    _, shown = stack.api("GET", f"/v1/calls/{done['sid']}")
    assert {"path": "$.steps[0]", "digits": ""} in [e["data"] for e in shown["events"] if e["kind"] == "digits"]


def test_no_ari_password_or_webhook_secret_reaches_a_log(stack: VoiceStack) -> None:
    logs = stack.logs()
    assert all(logs.values())
    for where, text in logs.items():
        for secret in (ARI_PASSWORD, WEBHOOK_SECRET):
            assert secret not in text, f"a secret is in the {where} log"
