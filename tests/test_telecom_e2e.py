"""Telecom end to end, every part real: a Daphne server, a Celery worker process on Redis, Kannel
and Jasmin (:mod:`tests.sms_gateways`) bound over SMPP to the SMSC simulator, PostgreSQL.

The operator configures a connector and a number with the management commands; a person makes a
project and an API key over HTTP; a message posted with the key is sent by the worker through the
gateway, reaches the simulated network, and the receipt comes back through the gateway to the
signed delivery-report webhook. The status callback gets signed POSTs. Failover, a gateway that
is down, forged or foreign delivery reports, inbound SMS into chat and a reply back to the phone
run through the same parts, and no gateway password or webhook secret reaches any log.

The worker and the server share the server's scratch database and a Celery queue of their own,
so a parallel run (or another test's worker) on the same Redis never takes their tasks.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from websockets.sync.client import connect

from fastsock.core.testing import free_port, skip_or_fail, stop_process, system_parts_required
from telecom.models import Connector
from telecom.webhooks import dlr_url
from tests.servers import RunningServer, daphne_server
from tests.sms_gateways import (
    Callback,
    CallbackRecorder,
    GatewayUnavailable,
    RunningJasmin,
    RunningKannel,
    own_celery_queue,
    start_celery_worker,
    start_jasmin,
    start_kannel,
)
from tests.smsc_simulator import SmscSimulator, SubmittedMessage

pytestmark = [pytest.mark.system, pytest.mark.redis]

T = TypeVar("T")

# Distinctive values, so that finding one in a log is certain to be a leak.
WEBHOOK_SECRET = f"e2e-webhook-secret-{secrets.token_hex(12)}"
GATEWAY_PASSWORDS = {"kannel": f"kpw{secrets.token_hex(6)}", "jasmin": f"jpw{secrets.token_hex(6)}"}  # Jasmin: ≤ 16
WEBHOOK_SECRET_ENV = "E2E_SMS_WEBHOOK_SECRET"
GATEWAY_USER = "fastsock"
PASSWORD = "E2e-Telecom-Passw0rd"
USERNAME = "opal"
HANDSET = "+33600000001"
# Per gateway: the number that sends through it, one that fails over to it, one with no gateway up.
NUMBERS = {
    "kannel": ("+14155550100", "+14155550101", "+14155550102"),
    "jasmin": ("+14155550200", "+14155550201", "+14155550202"),
}
TIMEOUT = 30


def wait_until(condition: Callable[[], T | None], *, what: str, timeout: float = TIMEOUT) -> T:
    """Poll ``condition`` until it gives something true; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.1)


def call(
    method: str, url: str, body: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One JSON request; returns (status, decoded body), error answers included."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json", **(headers or {})}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, json.loads(raw) if raw.strip().startswith((b"{", b"[")) else raw.decode()


def verify_signature(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The check docs/telecom.md gives integrators for ``FastSock-Signature``."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    if int(parts["t"]) < time.time() - tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@dataclass(repr=False)  # a failing test shows its fixtures: the server's env holds the secrets
class Stack:
    """The server and worker shared by every test here, and the person's project and key."""

    server: RunningServer
    worker: subprocess.Popen[bytes]
    worker_log: Path
    status_callbacks: CallbackRecorder
    token: str = ""
    project_id: int = 0
    api_key: str = ""
    signing_secret: str = ""
    # Everything the tests read from commands or captured, checked for secrets at the end.
    outputs: list[str] = field(default_factory=list)

    def manage(self, *arguments: str) -> str:
        output = self.server.manage(*arguments)
        self.outputs.append(output)
        return output

    def wait(self, condition: Callable[[], T | None], *, what: str, timeout: float = TIMEOUT) -> T:
        def alive_and(condition: Callable[[], T | None] = condition) -> T | None:
            assert self.worker.poll() is None, f"the worker died:\n{self.worker_log.read_text()[-3000:]}"
            assert self.server.process.poll() is None, f"Daphne died:\n{self.server.logs()[-3000:]}"
            return condition()

        try:
            return wait_until(alive_and, what=what, timeout=timeout)
        except AssertionError as error:
            raise AssertionError(
                f"{error}\n--- worker\n{self.worker_log.read_text()[-3000:]}\n--- daphne\n{self.server.logs()[-3000:]}"
            ) from None

    def send(self, *, from_: str, body: str, status_callback: bool = True) -> dict[str, Any]:
        message = {"to": HANDSET, "from": from_, "body": body}
        if status_callback:
            message["status_callback"] = f"{self.status_callbacks.base_url}/status"
        status, answer = call(
            "POST", f"{self.server.base_url}/v1/messages", message, headers={"Authorization": f"ApiKey {self.api_key}"}
        )
        assert status == 201, answer
        assert answer["status"] == "queued"
        return answer

    def message(self, sid: str) -> dict[str, Any]:
        status, answer = call(
            "GET", f"{self.server.base_url}/v1/messages/{sid}", headers={"Authorization": f"ApiKey {self.api_key}"}
        )
        assert status == 200, answer
        return answer

    def wait_for_status(self, sid: str, *statuses: str) -> dict[str, Any]:
        """The message once its status is one of ``statuses`` (and, once it went out, the gateway
        and its id are recorded: a report can move it to "sent" a moment before the worker does)."""

        def reached() -> dict[str, Any] | None:
            message = self.message(sid)
            recorded = message["status"] in ("queued", "sending", "failed") or (
                message["connector"] and message["provider_message_id"]
            )
            return message if message["status"] in statuses and recorded else None

        return self.wait(reached, what=f"{sid} {'/'.join(statuses)}")

    def callbacks_for(self, sid: str) -> list[Callback]:
        return self.status_callbacks.matching(lambda c: c.path == "/status" and json.loads(c.body)["sid"] == sid)

    def query(self, code: str) -> Any:
        """Run ``code`` (which prints JSON) in ``manage.py shell`` on the server's database."""
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("telecom-e2e")
    extra_env = {
        **own_celery_queue(),
        "LOG_LEVEL": "INFO",  # production's level; the worker says when it is ready
        "TELECOM_MAX_ATTEMPTS": "2",
        "TELECOM_RETRY_BASE_SECONDS": "1",
        "TELECOM_RETRY_MAX_SECONDS": "1",
        "TELECOM_CALLBACK_TIMEOUT_SECONDS": "5",
        WEBHOOK_SECRET_ENV: WEBHOOK_SECRET,
        "E2E_KANNEL_USERNAME": GATEWAY_USER,
        "E2E_KANNEL_PASSWORD": GATEWAY_PASSWORDS["kannel"],
        "E2E_JASMIN_USERNAME": GATEWAY_USER,
        "E2E_JASMIN_PASSWORD": GATEWAY_PASSWORDS["jasmin"],
    }
    status_callbacks = CallbackRecorder(lambda _path: (200, "ok"))
    with daphne_server(tmp, extra_env=extra_env) as server:
        worker_log = tmp / "worker.log"
        worker = start_celery_worker(server.env, worker_log)
        stack = Stack(server, worker, worker_log, status_callbacks)
        try:
            stack.wait(lambda: "ready" in worker_log.read_text(errors="replace"), what="worker ready", timeout=60)
            person_joins(stack)
            yield stack
        finally:
            stop_process(worker, grace_seconds=20)
            status_callbacks.close()


def person_joins(stack: Stack) -> None:
    """Register, log in, make a project and an API key, all over the HTTP API."""
    base = stack.server.base_url
    status, _ = call("POST", f"{base}/api/v1/auth/register", {"username": USERNAME, "password": PASSWORD})
    assert status == 201
    stack.token = login(base)
    bearer = {"Authorization": f"Bearer {stack.token}"}
    status, project = call("POST", f"{base}/v1/projects", {"name": "End to end"}, headers=bearer)
    assert status == 201, project
    stack.project_id = project["id"]
    status, key = call("POST", f"{base}/v1/projects/{stack.project_id}/keys", {"name": "e2e"}, headers=bearer)
    assert status == 201, key
    stack.api_key = key["key"]
    status, project = call("GET", f"{base}/v1/projects/{stack.project_id}", headers=bearer)
    assert status == 200
    stack.signing_secret = project["signing_secret"]


def login(base: str) -> str:
    status, tokens = call("POST", f"{base}/api/v1/auth/token", {"username": USERNAME, "password": PASSWORD})
    assert status == 200, tokens
    return tokens["access"]


@dataclass(repr=False)  # as Stack: the gateway holds its password
class Rig:
    """One real gateway behind its connector, the simulated SMSC it is bound to, its numbers."""

    kind: str
    connector: str
    gateway: RunningKannel | RunningJasmin
    smsc: SmscSimulator
    number: str
    failover_number: str
    down_number: str
    folder: Path  # the gateway's configuration and logs

    def gateway_logs(self) -> str:
        """What the gateway itself wrote to its logs, less Kannel's dump of its own configuration."""
        lines = []
        for log in sorted(self.folder.rglob("*.log")):
            lines += [line for line in log.read_text(errors="replace").splitlines() if "<password> = <" not in line]
        return "\n".join(lines)

    def submitted(self, text: str) -> SubmittedMessage:
        return self.smsc.wait_for_submit(lambda m: m.text == text, timeout=TIMEOUT)

    def receipt(self, submitted: SubmittedMessage, status: str) -> None:
        """The network's receipt for ``submitted``, once the gateway can match it to the message."""
        if isinstance(self.gateway, RunningJasmin):
            wait_until(lambda: self.gateway.matches_receipts_for(submitted.message_id), what="Jasmin's receipt map")
        self.smsc.send_receipt(submitted, status)


@pytest.fixture(scope="module", params=["kannel", "jasmin"])
def rig(request: pytest.FixtureRequest, stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    kind: str = request.param
    number, failover_number, down_number = NUMBERS[kind]
    name = f"e2e-{kind}"

    def connector(connector_name: str, url: str, priority: int) -> dict[str, str]:
        output = stack.manage(
            "telecom_connector", connector_name, "--kind", kind, "--url", url,
            "--username-env", f"E2E_{kind.upper()}_USERNAME", "--password-env", f"E2E_{kind.upper()}_PASSWORD",
            "--webhook-secret-env", WEBHOOK_SECRET_ENV, "--allow", "127.0.0.1/32", "--priority", str(priority),
        )  # fmt: skip
        return json.loads(output)

    # The gateway needs the connector's signed inbound URL, and the connector the gateway's address.
    inbound_url = connector(name, f"http://127.0.0.1:{free_port()}", 50)["inbound_url"]
    smsc = SmscSimulator().start()
    gateway: RunningKannel | RunningJasmin | None = None
    held: list[socket.socket] = []
    try:
        folder = tmp_path_factory.mktemp(kind)
        password = GATEWAY_PASSWORDS[kind]
        try:
            if kind == "kannel":
                gateway = start_kannel(
                    folder, smsc_port=smsc.port, mo_url=inbound_url, password=password, global_sender=None
                )
                url = gateway.sendsms_url
            else:
                gateway = start_jasmin(folder, smsc_port=smsc.port, mo_url=inbound_url, password=password)
                url = gateway.http_url
        except GatewayUnavailable as missing:
            skip_or_fail(str(missing), required=system_parts_required())
        smsc.wait_for_bind()
        assert connector(name, url, 50)["inbound_url"] == inbound_url
        # Two gateways that refuse every connection (a port held but never listened on): one ahead
        # of the real one, one on its own.
        for suffix in ("a", "b"):
            closed = refusing_port()
            held.append(closed)
            connector(f"{name}-closed-{suffix}", f"http://127.0.0.1:{closed.getsockname()[1]}", 10)
        stack.manage("telecom_number", number, "--project", str(stack.project_id), "--connector", name,
                     "--route-user", USERNAME)  # fmt: skip
        for connector_name in (f"{name}-closed-a", name):
            stack.manage("telecom_number", failover_number, "--project", str(stack.project_id),
                         "--connector", connector_name)  # fmt: skip
        stack.manage("telecom_number", down_number, "--project", str(stack.project_id),
                     "--connector", f"{name}-closed-b")  # fmt: skip
        yield Rig(kind, name, gateway, smsc, number, failover_number, down_number, folder)
    finally:
        if gateway is not None:
            gateway.stop()
        smsc.stop()
        for closed in held:
            closed.close()


def refusing_port() -> socket.socket:
    """A TCP port on 127.0.0.1 that refuses connections for as long as this socket is open."""
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    return closed


@pytest.fixture(autouse=True)
def keep_captured_output(
    stack: Stack, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Keep what pytest captured during each test for the final check, and show it as usual."""
    yield
    out, err = capfd.readouterr()
    stack.outputs.extend([out, err, caplog.text])
    sys.stdout.write(out)
    sys.stderr.write(err)


def signed_dlr(rig: Rig, sid: str, fields: dict[str, str], *, secret: str = WEBHOOK_SECRET) -> tuple[str, str, bytes]:
    """A delivery report for ``sid`` as ``rig``'s gateway sends it: (method, path?query, form body).

    The URL is signed by FastSock's own code with ``secret``, as it signs the URLs it hands out.
    """
    os.environ[WEBHOOK_SECRET_ENV] = secret
    try:
        url = urllib.parse.urlsplit(dlr_url(Connector(name=rig.connector, webhook_secret_env=WEBHOOK_SECRET_ENV), sid))
    finally:
        del os.environ[WEBHOOK_SECRET_ENV]
    if rig.kind == "kannel":  # Kannel GETs the dlr-url with its fields added to the query
        return "GET", f"{url.path}?{url.query}&{urllib.parse.urlencode(fields)}", b""
    return "POST", f"{url.path}?{url.query}", urllib.parse.urlencode(fields).encode()


def post_dlr(stack: Stack, request: tuple[str, str, bytes], *, source: str = "127.0.0.1") -> tuple[int, str]:
    """Send a delivery report to the server from the loopback address ``source``."""
    method, target, body = request
    address = urllib.parse.urlsplit(stack.server.base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10, source_address=(source, 0))
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        connection.request(method, target, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def receipt_fields(rig: Rig, message: dict[str, Any], stat: str) -> dict[str, str]:
    """A gateway's report fields: ``stat`` "ACK" is the SMSC's acceptance, else a handset receipt."""
    if rig.kind == "kannel":
        if stat == "ACK":
            return {"kannel_ref": message["sid"], "kannel_type": "8", "kannel_reply": "ACK/"}
        kannel_type = {"DELIVRD": "1", "UNDELIV": "2"}[stat]
        reply = f"id:1 sub:001 dlvrd:000 submit date:2601010000 done date:2601010000 stat:{stat} err:000 text:x"
        return {"kannel_ref": message["sid"], "kannel_type": kannel_type, "kannel_reply": reply}
    if stat == "ACK":
        return {"id": message["provider_message_id"], "level": "1", "message_status": "ESME_ROK"}
    return {"id": message["provider_message_id"], "level": "2", "message_status": stat, "err": "000"}


def test_a_message_sent_with_an_api_key_is_delivered_and_its_callbacks_are_signed(stack: Stack, rig: Rig) -> None:
    text = f"Your code is {secrets.randbelow(10**6):06d} ({rig.kind})"
    accepted = stack.send(from_=rig.number, body=text)

    submitted = rig.submitted(text)
    assert submitted.destination.lstrip("+") == HANDSET.lstrip("+")
    sent = stack.wait_for_status(accepted["sid"], "sent")
    assert sent["connector"] == rig.connector
    assert sent["provider_message_id"]
    rig.receipt(submitted, "DELIVRD")
    delivered = stack.wait_for_status(accepted["sid"], "delivered")
    assert delivered["date_delivered"]

    callbacks = stack.wait(
        lambda: len(found := stack.callbacks_for(accepted["sid"])) >= 2 and found, what="sent and delivered callbacks"
    )
    assert Counter(json.loads(c.body)["status"] for c in callbacks) == {"sent": 1, "delivered": 1}
    for callback in callbacks:
        assert verify_signature(stack.signing_secret, callback.headers["fastsock-signature"], callback.body)
        assert not verify_signature("whsec_wrong", callback.headers["fastsock-signature"], callback.body)


def test_repeated_and_late_receipts_never_move_a_status_back(stack: Stack, rig: Rig) -> None:
    text = f"late receipts ({rig.kind}) {secrets.token_hex(3)}"
    sid = stack.send(from_=rig.number, body=text)["sid"]
    submitted = rig.submitted(text)
    stack.wait_for_status(sid, "sent")
    rig.receipt(submitted, "DELIVRD")
    delivered = stack.wait_for_status(sid, "delivered")

    # What a gateway may send after the fact: the receipt again, the SMSC's acceptance, a
    # contradicting final state. Each is acknowledged as the gateway expects and changes nothing.
    for stat in ("DELIVRD", "ACK", "UNDELIV", "DELIVRD"):
        status, answer = post_dlr(stack, signed_dlr(rig, sid, receipt_fields(rig, delivered, stat)))
        assert status == 200, answer

    after = stack.message(sid)
    assert (after["status"], after["date_updated"]) == ("delivered", delivered["date_updated"])
    assert Counter(json.loads(c.body)["status"] for c in stack.callbacks_for(sid)) <= Counter(sent=1, delivered=1)


def test_a_forged_or_foreign_delivery_report_is_refused_and_changes_nothing(stack: Stack, rig: Rig) -> None:
    text = f"forged report ({rig.kind}) {secrets.token_hex(3)}"
    sid = stack.send(from_=rig.number, body=text, status_callback=False)["sid"]
    rig.submitted(text)
    sent = stack.wait_for_status(sid, "sent")
    report = receipt_fields(rig, sent, "UNDELIV")

    forged = post_dlr(stack, signed_dlr(rig, sid, report, secret="not-the-secret-but-long-enough"))
    foreign = post_dlr(stack, signed_dlr(rig, sid, report), source="127.0.0.2")

    assert forged[0] == 401, forged
    assert json.loads(forged[1])["error"]["code"]
    assert foreign[0] == 403, foreign
    assert stack.message(sid)["status"] == "sent"
    # The same report, signed and from an allowed address, is taken.
    assert post_dlr(stack, signed_dlr(rig, sid, report))[0] == 200
    assert stack.message(sid)["status"] == "undelivered"


def test_a_refused_connection_fails_over_to_the_next_gateway(stack: Stack, rig: Rig) -> None:
    text = f"failover ({rig.kind}) {secrets.token_hex(3)}"
    sid = stack.send(from_=rig.failover_number, body=text)["sid"]

    rig.submitted(text)
    sent = stack.wait_for_status(sid, "sent")
    assert sent["connector"] == rig.connector
    closed = stack.query(
        "import json; from telecom.models import Connector; "
        f"c = Connector.objects.get(name='{rig.connector}-closed-a'); print(json.dumps([c.healthy, c.last_error]))"
    )
    assert closed[0] is False
    assert "unreachable" in closed[1]


def test_a_message_whose_gateway_is_down_fails_with_a_dead_letter_after_the_last_attempt(
    stack: Stack, rig: Rig
) -> None:
    text = f"nobody home ({rig.kind}) {secrets.token_hex(3)}"
    sid = stack.send(from_=rig.down_number, body=text)["sid"]

    failed = stack.wait_for_status(sid, "failed", "sent", "delivered")
    assert (failed["status"], failed["error_code"]) == ("failed", "gateway_unreachable")
    attempts, dead_letters = stack.query(
        "import json; from telecom.models import SmsMessage, DeadLetter; "
        f"m = SmsMessage.objects.get(sid='{sid}'); "
        "print(json.dumps([m.attempts, DeadLetter.objects.filter(message=m).count()]))"
    )
    assert (attempts, dead_letters) == (2, 1)
    stack.wait(lambda: stack.callbacks_for(sid), what="failed callback")
    assert [json.loads(c.body)["status"] for c in stack.callbacks_for(sid)] == ["failed"]
    assert not any(m.text == text for m in rig.smsc.submitted)


def next_event(chat: Any, name: str, predicate: Callable[[dict[str, Any]], bool] = lambda _: True) -> dict:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        frame = json.loads(chat.recv(timeout=max(0.1, deadline - time.monotonic())))
        if frame["event"] == name and predicate(frame["data"]):
            return frame["data"]
    raise AssertionError(f"no {name} within {TIMEOUT} s")


def webhook_answers(stack: Stack, path: str) -> list[int]:
    """The statuses the server answered on ``path``, from its access log."""
    statuses = []
    for line in stack.server.logs().splitlines():
        with suppress(ValueError):
            record = json.loads(line)
            if record.get("logger") == "fastsock.access" and record.get("path") == path:
                statuses.append(record["status"])
    return statuses


def test_an_inbound_sms_reaches_the_routed_person_in_chat_and_their_reply_goes_back(
    stack: Stack, rig: Rig, request: pytest.FixtureRequest
) -> None:
    phone = "+33600000077" if rig.kind == "kannel" else "+33600000078"
    text = f"Hello from the phone {{{rig.kind}}} {secrets.token_hex(3)}"
    reply = f"Got it ({rig.kind}) {secrets.token_hex(3)}"
    inbound_path = f"/webhooks/sms/{rig.connector}/inbound"
    earlier = len(webhook_answers(stack, inbound_path))

    with connect(f"{stack.server.ws_url}/ws/?token={login(stack.server.base_url)}") as chat:
        rig.smsc.inject_mo(source=phone.lstrip("+"), destination=rig.number.lstrip("+"), text=text)
        answers = stack.wait(
            lambda: webhook_answers(stack, inbound_path)[earlier:], what="the gateway calling the inbound webhook"
        )
        assert answers[0] == 200, f"the inbound webhook answered {answers[0]}"
        message = next_event(chat, "message.new", lambda data: data["message"]["content"] == text)["message"]
        assert message["type"] == "sms"
        chat.send(
            json.dumps({"event": "message.send", "data": {"room_id": message["room_id"], "content": reply,
                                                           "client_id": secrets.token_hex(4)}})
        )  # fmt: skip
        next_event(chat, "message.ack")

    back = rig.submitted(reply)
    assert back.destination.lstrip("+") == phone.lstrip("+")


def test_no_gateway_password_or_webhook_secret_reaches_a_log(stack: Stack, rig: Rig) -> None:
    # Last for each gateway: everything above ran with the secrets configured.
    leaks = {
        "daphne": stack.server.logs(),
        "worker": stack.worker_log.read_text(errors="replace"),
        "commands and pytest's captured output": "\n".join(stack.outputs),
        # Jasmin logs every HTTP API request: credentials go in the form body, never the URL.
        f"{rig.kind}'s own logs": rig.gateway_logs(),
    }
    assert rig.gateway_logs()
    assert stack.server.logs()
    assert stack.worker_log.read_text()
    for secret in (WEBHOOK_SECRET, *GATEWAY_PASSWORDS.values()):
        for where, text in leaks.items():
            # Name where it leaked, never the text around it: the failure report is output too.
            assert secret not in text, f"a gateway password or the webhook secret is in the {where}"
