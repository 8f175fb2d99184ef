"""FastSock's SMS adapters against the real gateways: Kannel and Jasmin, each bound over SMPP to a
simulated SMSC (:mod:`tests.smsc_simulator`) and calling back a local HTTP server.

Each test runs once per gateway. The simulator checks what reached the "network" (data coding,
text); the receipts and inbound messages it sends come back through the gateway to the callback
server, and the adapter's ``parse_dlr`` / ``parse_mo`` read them as FastSock's webhooks will.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fastsock.core.testing import skip_or_fail, system_parts_required
from telecom.gateways import (
    DeliveryReport,
    GatewayRejected,
    GatewayTransportError,
    JasminGateway,
    KannelGateway,
    SendRequest,
    SmsGateway,
)
from tests.sms_gateways import (
    Callback,
    CallbackRecorder,
    GatewayUnavailable,
    RunningJasmin,
    RunningKannel,
    start_jasmin,
    start_kannel,
    wait_until,
)
from tests.smsc_simulator import DATA_CODING_DEFAULT, DATA_CODING_UCS2, SmscSimulator

pytestmark = pytest.mark.system

HANDSET = "33600000001"
# Reports to this path are answered 503 while the test asks for it, as FastSock answers when it
# cannot store one just then (tests.sms_gateways configures Kannel to send such a report again).
BUSY_PATH = "/dlr-busy"
SENDER = "FastSock"
GSM_TEXT = "Hello {FastSock} @ 10€ [ok]"
UCS2_TEXT = "Héllo 👋 мир"


@dataclass
class Rig:
    """One gateway, its adapter, the SMSC behind it and the server it calls back."""

    gateway: SmsGateway
    smsc: SmscSimulator
    callbacks: CallbackRecorder
    server: RunningKannel | RunningJasmin
    counter: int = 0
    refusals: list[str] = field(default_factory=list)  # callback paths to answer 503, once each

    @property
    def server_url(self) -> str:
        return self.server.sendsms_url if isinstance(self.server, RunningKannel) else self.server.http_url

    def send(self, body: str, encoding: str, *, dlr_path: str = "/dlr") -> tuple[str, str]:
        """Send through the adapter; return (FastSock's sid, the provider's message id)."""
        self.counter += 1
        sid = f"SM{self.counter:04d}{self.gateway.name}"
        # FastSock signs its callback URLs: a percent-escape in them must come back intact.
        dlr_url = f"{self.callbacks.base_url}{dlr_path}?sid={sid}&sig=a%2Bb%2F"
        result = self.gateway.send(SendRequest(HANDSET, SENDER, body, encoding, dlr_url, sid))  # type: ignore[arg-type]
        return sid, result.provider_message_id

    def reports(self, provider_id: str, predicate: Callable[[DeliveryReport], bool]) -> DeliveryReport:
        """Wait for the first delivery report about ``provider_id`` that ``predicate`` accepts."""

        def matches(callback: Callback) -> bool:
            if callback.path != "/dlr":
                return False
            report = self.gateway.parse_dlr(callback.fields)
            return report.provider_message_id == provider_id and predicate(report)

        callback = self.callbacks.wait_for(matches)
        assert callback.fields["sig"] == "a+b/"
        return self.gateway.parse_dlr(callback.fields)


def start_rig(kind: str, folder: Path) -> Iterator[Rig]:
    adapter_class = KannelGateway if kind == "kannel" else JasminGateway

    refusals: list[str] = []

    def answers(path: str) -> tuple[int, str]:
        probe = adapter_class("http://127.0.0.1", "probe", "probe")
        if path in refusals:
            refusals.remove(path)
            return 503, '{"error": {"code": "unavailable", "message": "Try again.", "details": {}}}'
        return probe.dlr_ack() if path.startswith("/dlr") else probe.mo_ack()

    callbacks = CallbackRecorder(answers)
    smsc = SmscSimulator().start()
    server: RunningKannel | RunningJasmin | None = None
    try:
        mo_url = f"{callbacks.base_url}/mo?token=t%2B1"
        try:
            if kind == "kannel":
                server = start_kannel(folder, smsc_port=smsc.port, mo_url=mo_url)
                gateway: SmsGateway = KannelGateway(server.sendsms_url, server.username, server.password, timeout=5)
            else:
                server = start_jasmin(folder, smsc_port=smsc.port, mo_url=mo_url)
                gateway = JasminGateway(server.http_url, server.username, server.password, timeout=5)
        except GatewayUnavailable as missing:
            skip_or_fail(str(missing), required=system_parts_required())
        smsc.wait_for_bind()
        yield Rig(gateway, smsc, callbacks, server, refusals=refusals)
    finally:
        if server is not None:
            server.stop()
        smsc.stop()
        callbacks.close()


@pytest.fixture(scope="module", params=["kannel", "jasmin"])
def rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    yield from start_rig(request.param, tmp_path_factory.mktemp(request.param))


def is_sent(report: DeliveryReport) -> bool:
    return report.status == "sent"


def is_final(report: DeliveryReport) -> bool:
    return report.final


def test_gsm7_message_reaches_the_smsc_and_its_receipt_reads_delivered(rig: Rig) -> None:
    _sid, provider_id = rig.send(GSM_TEXT, "GSM-7")

    submitted = rig.smsc.wait_for_submit(lambda m: m.text == GSM_TEXT)
    assert submitted.data_coding == DATA_CODING_DEFAULT
    assert (submitted.destination, submitted.source) == (HANDSET, SENDER)
    assert rig.reports(provider_id, is_sent).status == "sent"

    rig.smsc.send_receipt(submitted, "DELIVRD")
    report = rig.reports(provider_id, is_final)
    assert (report.status, report.raw_status, report.error_code) == ("delivered", "DELIVRD", None)
    assert report.occurred_at is not None


def test_ucs2_message_arrives_as_utf16_and_an_undelivered_receipt_reads_undelivered(rig: Rig) -> None:
    _sid, provider_id = rig.send(UCS2_TEXT, "UCS-2")

    submitted = rig.smsc.wait_for_submit(lambda m: m.text == UCS2_TEXT)
    assert submitted.data_coding == DATA_CODING_UCS2
    assert submitted.short_message == UCS2_TEXT.encode("utf-16-be")
    rig.reports(provider_id, is_sent)

    rig.smsc.send_receipt(submitted, "UNDELIV", error="034")
    report = rig.reports(provider_id, is_final)
    assert (report.status, report.raw_status, report.error_code) == ("undelivered", "UNDELIV", "034")


def test_receipts_out_of_order_and_repeated_each_reach_the_right_message(rig: Rig) -> None:
    _, first_id = rig.send("first of two", "GSM-7")
    _, second_id = rig.send("second of two", "GSM-7")
    first = rig.smsc.wait_for_submit(lambda m: m.text == "first of two")
    second = rig.smsc.wait_for_submit(lambda m: m.text == "second of two")
    rig.reports(first_id, is_sent)
    rig.reports(second_id, is_sent)

    rig.smsc.send_receipt(second, "EXPIRED")
    rig.smsc.send_receipt(first, "REJECTD", copies=2)

    assert rig.reports(second_id, is_final).status == "undelivered"
    rejected = rig.reports(first_id, is_final)
    assert (rejected.status, rejected.raw_status) == ("failed", "REJECTD")
    # However often the gateway passes the receipt on, it is one event for FastSock.
    finals = [
        rig.gateway.parse_dlr(c.fields)
        for c in rig.callbacks.matching(lambda c: c.path == "/dlr")
        if rig.gateway.parse_dlr(c.fields).provider_message_id == first_id
    ]
    assert {r.event_id for r in finals if r.final} == {rejected.event_id}


@pytest.mark.parametrize(
    ("text", "label"), [("Hi from the phone,  two spaces {x}", "gsm"), ("Привет 👋 from the phone", "ucs2")]
)
def test_inbound_message_reaches_fastsock_with_its_text(rig: Rig, text: str, label: str) -> None:
    sender = "33600000009" if label == "gsm" else "33600000010"
    rig.smsc.inject_mo(source=sender, destination="12345", text=text)

    callback = rig.callbacks.wait_for(lambda c: c.path == "/mo" and sender in str(c.fields))
    inbound = rig.gateway.parse_mo(callback.fields)
    assert callback.fields["token"] == "t+1"
    # Kannel writes an international (TON 1) number with "+", Jasmin passes the digits on.
    assert inbound.from_.lstrip("+") == sender
    assert inbound.to == "12345"
    assert inbound.body == text
    assert inbound.provider_message_id


def test_a_receipt_the_server_could_not_take_comes_again(rig: Rig) -> None:
    # Otherwise one busy moment on FastSock's side leaves the message "sent" for good.
    text = "Report me twice"
    _sid, provider_id = rig.send(text, "GSM-7", dlr_path=BUSY_PATH)
    submitted = rig.smsc.wait_for_submit(lambda m: m.text == text)

    def receipts() -> list[Callback]:
        def about_it(callback: Callback) -> bool:
            if callback.path != BUSY_PATH:
                return False
            report = rig.gateway.parse_dlr(callback.fields)
            return report.provider_message_id == provider_id and report.final

        return rig.callbacks.matching(about_it)

    # The SMSC's acceptance is taken first (Jasmin would drop a receipt that overtook it).
    rig.callbacks.wait_for(lambda c: c.path == BUSY_PATH and not rig.gateway.parse_dlr(c.fields).final)
    rig.refusals.append(BUSY_PATH)
    rig.smsc.send_receipt(submitted, "DELIVRD")

    refused, taken = wait_until(lambda: receipts()[:2] if len(receipts()) >= 2 else None, timeout=20, what="receipt")
    assert rig.gateway.parse_dlr(refused.fields) == rig.gateway.parse_dlr(taken.fields)
    assert rig.gateway.parse_dlr(taken.fields).status == "delivered"
    assert rig.refusals == []


def test_wrong_credentials_are_a_rejection_naming_no_secret(rig: Rig) -> None:
    gateway = type(rig.gateway)(rig.server_url, "fastsock", "wrong-password", timeout=5)  # type: ignore[call-arg]
    request = SendRequest(HANDSET, SENDER, "hello", "GSM-7", f"{rig.callbacks.base_url}/dlr", "SMwrong")

    with pytest.raises(GatewayRejected) as refused:
        gateway.send(request)

    assert refused.value.code in (400, 401, 403)
    assert "wrong-password" not in str(refused.value)


def test_health_is_true_while_the_gateway_runs(rig: Rig) -> None:
    assert rig.gateway.health() is True


def test_a_gateway_that_is_not_running_is_a_transport_error(rig: Rig) -> None:
    # Last for each gateway: it stops the gateway the other tests used.
    rig.server.stop()
    request = SendRequest(HANDSET, SENDER, "hello", "GSM-7", f"{rig.callbacks.base_url}/dlr", "SMdown")

    with pytest.raises(GatewayTransportError, match="unreachable"):
        rig.gateway.send(request)
    assert rig.gateway.health() is False
