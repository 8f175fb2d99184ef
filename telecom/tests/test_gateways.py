"""The SMS gateway adapters against a tiny local HTTP server standing in for the gateway.

What the real gateways do with these requests is checked in tests/test_sms_gateways.py.
"""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from fastsock.core.testing import free_port
from telecom.gateways import (
    GatewayRejected,
    GatewayTransportError,
    InvalidCallback,
    JasminGateway,
    KannelGateway,
    SendRequest,
)
from telecom.gateways.kannel import sms_service_get_url

DLR_URL = "https://fastsock.example/webhooks/sms/gw1/dlr?sid=SM1&sig=a%2Bb"


@dataclass
class FakeGateway:
    """Answers every request with ``status`` and ``body``; keeps each request's path and raw query."""

    status: int = 200
    body: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)
    # How each request came (GET with a query string, or POST with a form body) and its query string.
    methods: list[str] = field(default_factory=list)
    query_strings: list[str] = field(default_factory=list)

    @property
    def query(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.requests[-1][1], keep_blank_values=True))

    def raw_values(self, name: str) -> bytes:
        """One query value as bytes (for texts that are not UTF-8)."""
        pairs = urllib.parse.parse_qsl(self.requests[-1][1], encoding="latin-1")
        return dict(pairs)[name].encode("latin-1")


@pytest.fixture
def fake() -> Iterator[tuple[FakeGateway, str]]:
    state = FakeGateway()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            state.requests.append((url.path, url.query))
            state.methods.append("GET")
            state.query_strings.append(url.query)
            self._answer()

        def do_POST(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            form = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("latin-1")
            state.requests.append((url.path, form))
            state.methods.append("POST")
            state.query_strings.append(url.query)
            self._answer()

        def _answer(self) -> None:
            self.send_response(state.status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(state.body.encode())

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def request(body: str = "Hello", encoding: str = "GSM-7") -> SendRequest:
    return SendRequest("+33600000001", "FastSock", body, encoding, DLR_URL, "SM1")  # type: ignore[arg-type]


# Jasmin: sending.


def test_jasmin_sends_gsm_text_as_content_asking_for_both_report_levels(fake: tuple[FakeGateway, str]) -> None:
    state, url = fake
    state.body = 'Success "07033084-5cfd-4812-90a4-e4d24ffb6e3d"'

    result = JasminGateway(url, "fastsock", "secret").send(request("Hello {world}"))

    assert result.provider_message_id == "07033084-5cfd-4812-90a4-e4d24ffb6e3d"
    assert state.requests[-1][0] == "/send"
    # As a form body: a query string (with the password) would land in Jasmin's access log.
    assert (state.methods[-1], state.query_strings[-1]) == ("POST", "")
    assert state.query == {
        "username": "fastsock",
        "password": "secret",
        "to": "+33600000001",
        "from": "FastSock",
        "content": "Hello {world}",
        "dlr": "yes",
        "dlr-url": DLR_URL,
        "dlr-level": "3",
        "dlr-method": "POST",
    }


def test_jasmin_sends_ucs2_as_utf16_hex_with_coding_8(fake: tuple[FakeGateway, str]) -> None:
    state, url = fake
    state.body = 'Success "id-1"'

    JasminGateway(url, "fastsock", "secret").send(request("Hé 👋", "UCS-2"))

    assert state.query["coding"] == "8"
    assert state.query["hex-content"] == "Hé 👋".encode("utf-16-be").hex()
    assert "content" not in state.query


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, 'Error "Authentication failure for username:fastsock"'),
        (400, 'Error "Argument [password] has an invalid value: [secret]."'),
        (412, 'Error "No route found"'),
    ],
)
def test_jasmin_refusals_are_rejections_that_name_no_credential(
    fake: tuple[FakeGateway, str], status: int, body: str
) -> None:
    state, url = fake
    state.status, state.body = status, body

    with pytest.raises(GatewayRejected) as refused:
        JasminGateway(url, "fastsock", "secret").send(request())

    assert refused.value.code == status
    assert "secret" not in str(refused.value)
    assert "fastsock" not in str(refused.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (412, 'Error "Failover route has no bound connectors"'),
        (403, 'Error "User throughput exceeded"'),
        (500, 'Error "Cannot send submit_sm, check SMPPClientManagerPB log file for details"'),
        (503, 'Error "InterceptorPB not connected !"'),
        (200, "<html>a proxy page</html>"),
    ],
)
def test_jasmin_answers_that_may_pass_are_transport_errors(
    fake: tuple[FakeGateway, str], status: int, body: str
) -> None:
    state, url = fake
    state.status, state.body = status, body

    with pytest.raises(GatewayTransportError):
        JasminGateway(url, "fastsock", "secret").send(request())


@pytest.mark.parametrize("password", ["a-password-of-twenty", ""])
def test_jasmin_credentials_it_would_not_accept_are_refused_before_sending(
    fake: tuple[FakeGateway, str], password: str
) -> None:
    state, url = fake
    with pytest.raises(GatewayRejected, match="1 to 16") as refused:
        JasminGateway(url, "fastsock", password).send(request())

    assert state.requests == []
    assert "a-password-of-twenty" not in str(refused.value)


def test_jasmin_health_is_its_ping(fake: tuple[FakeGateway, str]) -> None:
    state, url = fake
    state.body = "Jasmin/PONG"
    assert JasminGateway(url, "u", "p").health() is True
    assert state.requests[-1][0] == "/ping"

    state.status = 404
    assert JasminGateway(url, "u", "p").health() is False


# Jasmin: callbacks.


@pytest.mark.parametrize(
    ("level", "message_status", "status", "error_code"),
    [
        ("1", "ESME_ROK", "sent", None),
        ("1", "ESME_RINVDSTADR", "failed", "ESME_RINVDSTADR"),
        ("1", "ESME_RTHROTTLED", "failed", "ESME_RTHROTTLED"),
        ("2", "DELIVRD", "delivered", None),
        ("2", "ACCEPTD", "sent", None),
        ("2", "UNKNOWN", "sent", None),
        ("2", "UNDELIV", "undelivered", "034"),
        ("2", "EXPIRED", "undelivered", "034"),
        ("2", "DELETED", "undelivered", "034"),
        ("2", "REJECTD", "failed", "034"),
    ],
)
def test_jasmin_report_statuses_read_as_fastsock_statuses(
    level: str, message_status: str, status: str, error_code: str | None
) -> None:
    form = {"id": "uuid-1", "level": level, "message_status": message_status, "connector": "smsc1"}
    if level == "2":
        form |= {
            "id_smsc": "1002",
            "err": "000" if status in ("delivered", "sent") else "034",
            "donedate": "2612021530",
        }

    report = JasminGateway("http://127.0.0.1", "u", "p").parse_dlr(form)

    assert (report.provider_message_id, report.status, report.error_code) == ("uuid-1", status, error_code)
    assert report.event_id == f"jasmin:uuid-1:{level}:{message_status}"
    if level == "2":
        assert report.occurred_at == datetime(2026, 12, 2, 15, 30, tzinfo=UTC)


def test_a_repeated_jasmin_report_is_the_same_event_and_its_two_levels_are_two() -> None:
    gateway = JasminGateway("http://127.0.0.1", "u", "p")
    level1 = {"id": "uuid-1", "level": "1", "message_status": "ESME_ROK"}
    level2 = {"id": "uuid-1", "level": "2", "message_status": "DELIVRD", "err": "000"}

    assert gateway.parse_dlr(level1).event_id == gateway.parse_dlr(dict(level1)).event_id
    assert gateway.parse_dlr(level1).event_id != gateway.parse_dlr(level2).event_id


@pytest.mark.parametrize(
    "form",
    [
        {"level": "2", "message_status": "DELIVRD"},
        {"id": "uuid-1", "level": "2", "message_status": "SOMETHING"},
        {"id": "uuid-1", "level": "7", "message_status": "DELIVRD"},
    ],
)
def test_jasmin_reports_it_cannot_read_are_invalid(form: dict[str, str]) -> None:
    with pytest.raises(InvalidCallback):
        JasminGateway("http://127.0.0.1", "u", "p").parse_dlr(form)


@pytest.mark.parametrize(
    ("binary", "coding", "body"),
    [
        ("48656c6c6f201b65", "\x00", "Hello €"),  # Jasmin 0.11.0 sends the coding as a raw byte
        ("48656c6c6f201b65", "0", "Hello €"),
        ("0048d83ddc4b", "\x08", "H👋"),
        ("0048d83ddc4b", "8", "H👋"),
        ("48e9", "3", "Hé"),
    ],
)
def test_jasmin_inbound_text_is_decoded_from_binary_by_coding(binary: str, coding: str, body: str) -> None:
    form = {"id": "uuid-9", "from": "33600000009", "to": "12345", "content": "ignored", "binary": binary}
    form["coding"] = coding

    inbound = JasminGateway("http://127.0.0.1", "u", "p").parse_mo(form)

    assert (inbound.from_, inbound.to, inbound.body, inbound.provider_message_id) == (
        "33600000009",
        "12345",
        body,
        "uuid-9",
    )


def test_jasmin_is_acknowledged_with_its_exact_words() -> None:
    gateway = JasminGateway("http://127.0.0.1", "u", "p")
    assert gateway.dlr_ack() == gateway.mo_ack() == (200, "ACK/Jasmin")


# Kannel: sending.


def test_kannel_sends_gsm_text_with_a_dlr_url_that_carries_the_sid_and_escape_codes(
    fake: tuple[FakeGateway, str],
) -> None:
    state, url = fake
    state.status, state.body = 202, "0: Accepted for delivery"

    result = KannelGateway(url, "fastsock", "secret", smsc="smpp1").send(request("Hello {world}"))

    assert result.provider_message_id == "SM1"
    assert state.requests[-1][0] == "/cgi-bin/sendsms"
    query = state.query
    assert {k: query[k] for k in ("username", "password", "to", "from", "text", "charset", "smsc", "dlr-mask")} == {
        "username": "fastsock",
        "password": "secret",
        "to": "+33600000001",
        "from": "FastSock",
        "text": "Hello {world}",
        "charset": "UTF-8",
        "smsc": "smpp1",
        "dlr-mask": "31",
    }
    # Kannel expands %-codes in the dlr-url, so the URL's own escapes are doubled.
    assert query["dlr-url"].startswith(
        "https://fastsock.example/webhooks/sms/gw1/dlr?sid=SM1&sig=a%%2Bb&kannel_ref=SM1"
    )
    for code in ("kannel_type=%d", "kannel_reply=%A", "kannel_id=%I", "kannel_foreign_id=%F", "kannel_time=%T"):
        assert f"&{code}" in query["dlr-url"]


def test_kannel_sends_ucs2_as_utf16_bytes_with_coding_2(fake: tuple[FakeGateway, str]) -> None:
    state, url = fake
    state.status, state.body = 202, "3: Queued for later delivery"

    KannelGateway(url, "fastsock", "secret").send(request("Hé 👋", "UCS-2"))

    assert (state.query["coding"], state.query["charset"]) == ("2", "UTF-16BE")
    assert state.raw_values("text") == "Hé 👋".encode("utf-16-be")


def test_kannel_refusals_are_rejections_and_its_temporary_failure_is_transient(
    fake: tuple[FakeGateway, str],
) -> None:
    state, url = fake
    gateway = KannelGateway(url, "fastsock", "secret")
    state.status, state.body = 403, "Authorization failed for sendsms"
    with pytest.raises(GatewayRejected) as refused:
        gateway.send(request())
    assert refused.value.code == 403
    assert "secret" not in str(refused.value)

    state.status, state.body = 503, "Temporal failure, try again later."
    with pytest.raises(GatewayTransportError):
        gateway.send(request())


def test_kannel_health_is_any_answer_from_smsbox(fake: tuple[FakeGateway, str]) -> None:
    state, url = fake
    state.status = 403
    assert KannelGateway(url, "u", "p").health() is True
    state.status = 500
    assert KannelGateway(url, "u", "p").health() is False


# Kannel: callbacks.

RECEIPT = "id:1002 sub:001 dlvrd:{d} submit date:2612021530 done date:2612021531 stat:{stat} err:{err} text:Hello"


@pytest.mark.parametrize(
    ("report_type", "reply", "status", "raw_status", "error_code"),
    [
        ("8", "ACK/", "sent", "ACK/", None),
        ("4", "", "sent", "type 4", None),
        ("16", "NACK/0x0000000b/Invalid Destination Address", "failed", None, "0x0000000b"),
        ("1", RECEIPT.format(d="001", stat="DELIVRD", err="000"), "delivered", "DELIVRD", None),
        ("2", RECEIPT.format(d="000", stat="UNDELIV", err="034"), "undelivered", "UNDELIV", "034"),
        ("34", RECEIPT.format(d="000", stat="EXPIRED", err="000"), "undelivered", "EXPIRED", None),
        ("2", RECEIPT.format(d="000", stat="REJECTD", err="001"), "failed", "REJECTD", "001"),
        ("2", "", "undelivered", "type 2", None),
    ],
)
def test_kannel_report_types_read_as_fastsock_statuses(
    report_type: str, reply: str, status: str, raw_status: str | None, error_code: str | None
) -> None:
    query = {"sid": "SM1", "kannel_ref": "SM1", "kannel_type": report_type, "kannel_reply": reply}
    query["kannel_time"] = "1796225200"

    report = KannelGateway("http://127.0.0.1", "u", "p").parse_dlr(query)

    assert (report.provider_message_id, report.status, report.error_code) == ("SM1", status, error_code)
    assert report.raw_status == (raw_status or reply)
    assert report.occurred_at == datetime.fromtimestamp(1796225200, tz=UTC)


@pytest.mark.parametrize(
    "query",
    [{"kannel_type": "1"}, {"kannel_ref": "SM1", "kannel_type": "%d"}, {"kannel_ref": "SM1", "kannel_type": "64"}],
)
def test_kannel_reports_it_cannot_read_are_invalid(query: dict[str, str]) -> None:
    with pytest.raises(InvalidCallback):
        KannelGateway("http://127.0.0.1", "u", "p").parse_dlr(query)


def test_kannel_inbound_message_reads_from_the_sms_service_fields() -> None:
    query = {
        "token": "t",
        "kannel_from": "+33600000009",
        "kannel_to": "12345",
        "kannel_text": "Привет  👋",
        "kannel_coding": "0",
        "kannel_id": "kannel-uuid",
    }

    inbound = KannelGateway("http://127.0.0.1", "u", "p").parse_mo(query)

    assert (inbound.from_, inbound.to, inbound.body, inbound.provider_message_id) == (
        "+33600000009",
        "12345",
        "Привет  👋",
        "kannel-uuid",
    )


def test_kannel_ucs2_inbound_without_mo_recode_is_invalid() -> None:
    query = {"kannel_from": "+33600000009", "kannel_to": "12345", "kannel_text": "\x04\x1f", "kannel_coding": "2"}
    with pytest.raises(InvalidCallback, match="mo-recode"):
        KannelGateway("http://127.0.0.1", "u", "p").parse_mo(query)


def test_kannel_sms_service_url_keeps_the_inbound_url_and_adds_escape_codes() -> None:
    get_url = sms_service_get_url("https://fastsock.example/webhooks/sms/gw1/inbound?token=a%2Fb")

    assert get_url.startswith("https://fastsock.example/webhooks/sms/gw1/inbound?token=a%%2Fb&kannel_from=%p")
    assert "&kannel_text=%b" in get_url


def test_kannel_acknowledgements_send_nothing_back_to_the_handset() -> None:
    gateway = KannelGateway("http://127.0.0.1", "u", "p")
    assert gateway.dlr_ack() == (200, "OK")
    assert gateway.mo_ack() == (200, "")


# Both.


@pytest.mark.parametrize("gateway_class", [JasminGateway, KannelGateway])
def test_a_gateway_nobody_listens_for_is_a_transport_error_and_unhealthy(gateway_class: type) -> None:
    gateway = gateway_class(f"http://127.0.0.1:{free_port()}", "fastsock", "secret", timeout=2)

    with pytest.raises(GatewayTransportError, match="unreachable") as failed:
        gateway.send(request())

    assert "secret" not in str(failed.value)
    assert gateway.health() is False


@pytest.mark.parametrize("gateway_class", [JasminGateway, KannelGateway])
def test_an_adapter_never_shows_its_password(gateway_class: type) -> None:
    gateway = gateway_class("http://127.0.0.1", "fastsock", "secret")
    assert "secret" not in repr(gateway)
    assert "secret" not in str(gateway)
