"""Jasmin SMS Gateway through its legacy HTTP API (``/send`` on port 1401).

Sending asks for both delivery-report levels (``dlr-level=3``, POSTed to the request's
``dlr_url``): level 1 reports the SMSC's answer to ``submit_sm``, level 2 the handset's receipt.
Jasmin retries a callback (1 + 3 times, 30 s apart) unless the answer is exactly ``ACK/Jasmin``,
for reports and inbound messages alike; :meth:`JasminGateway.dlr_ack` and
:meth:`JasminGateway.mo_ack` give that answer.

Inbound messages arrive from a Jasmin HTTP client connector (``httpccm``) chosen by an MO route.
Their ``content`` field carries the raw bytes of the short message, so the text is decoded from
``binary`` (the same bytes in hex) according to ``coding``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from telecom.encoding import SMPP_DATA_CODING, UCS2, gsm7_decode, ucs2_hex
from telecom.gateways.base import (
    RECEIPT_STATUS,
    DeliveryReport,
    DeliveryStatus,
    GatewayRejected,
    GatewayTransportError,
    InboundMessage,
    InvalidCallback,
    SendRequest,
    SendResult,
    field_value,
    http_get,
    http_post_form,
    inbound_media_urls,
    plain_fields,
    redact,
    required_field,
)

NAME = "Jasmin"
# Jasmin's HTTP API checks credentials against ^.{1,16}$ (its docs say 30).
MAX_CREDENTIAL_LENGTH = 16
ANSWER = re.compile(r'^(Success|Error) "(.*)"$', re.DOTALL)
# Refusals that say "not now" rather than "never": another connector, or a later try, may work.
TRANSIENT_REFUSALS = ("User throughput exceeded", "has no bound connectors")

# Level 1: the command status of submit_sm_resp.
SUBMIT_ACCEPTED = "ESME_ROK"


@dataclass(frozen=True)
class JasminGateway:
    """Sends through one Jasmin HTTP API; cheap to make, holds no connection."""

    base_url: str
    username: str
    password: str
    timeout: float = 10.0
    name: str = NAME
    carries_media: ClassVar[bool] = False  # media go as links in the text (SendRequest.sms_text)

    def __repr__(self) -> str:
        return f"JasminGateway(base_url={self.base_url!r}, username={self.username!r})"

    def send(self, req: SendRequest) -> SendResult:
        """Submit one message; return Jasmin's message id (the ``id`` of its delivery reports).

        Raises :class:`GatewayRejected` when Jasmin refuses it (bad argument, authentication,
        no route, billing) and :class:`GatewayTransportError` when Jasmin is unreachable, fails,
        or cannot take it now (throughput quota, no bound SMSC connector).
        """
        if not all(1 <= len(value) <= MAX_CREDENTIAL_LENGTH for value in (self.username, self.password)):
            # Jasmin would refuse them too, quoting the value back: refuse here, naming none.
            raise GatewayRejected(
                self.name, 400, f"username and password must be 1 to {MAX_CREDENTIAL_LENGTH} characters"
            )
        params = {
            "username": self.username,
            "password": self.password,
            "to": req.to,
            "dlr": "yes",
            "dlr-url": req.dlr_url,
            "dlr-level": "3",
            "dlr-method": "POST",
        }
        if req.from_:
            params["from"] = req.from_
        if req.encoding == UCS2:
            # With coding 0 Jasmin would re-encode the text to GSM 03.38, turning the rest into "?".
            params["coding"] = str(SMPP_DATA_CODING[UCS2])
            params["hex-content"] = ucs2_hex(req.sms_text)
        else:
            params["content"] = req.sms_text
        answer = http_post_form(self._url("/send"), params, timeout=self.timeout, gateway=self.name)
        match = ANSWER.match(answer.body)
        if answer.status == 200 and match and match.group(1) == "Success":
            return SendResult(provider_message_id=match.group(2), raw=answer.body)
        reason = self._redact(match.group(2) if match else answer.body[:200])
        if answer.status < 400:
            raise GatewayTransportError(f"Jasmin answered something unexpected: {answer.status} {reason}")
        if any(marker in reason for marker in TRANSIENT_REFUSALS):
            raise GatewayTransportError(f"Jasmin cannot take the message now: {answer.status} {reason}")
        raise GatewayRejected(self.name, answer.status, reason)

    def parse_dlr(self, form: Mapping[str, Any]) -> DeliveryReport:
        """Read one of Jasmin's delivery-report callbacks (level 1 or 2).

        Raises :class:`InvalidCallback` when a field is missing or the status is unknown.
        """
        message_id = required_field(form, "id", self.name)
        raw_status = required_field(form, "message_status", self.name)
        level = required_field(form, "level", self.name)
        error_code: str | None
        occurred_at = None
        if level == "1":
            status: DeliveryStatus = "sent" if raw_status == SUBMIT_ACCEPTED else "failed"
            error_code = None if raw_status == SUBMIT_ACCEPTED else raw_status
        elif level == "2":
            if raw_status not in RECEIPT_STATUS:
                raise InvalidCallback(f"Jasmin delivery report with unknown status {raw_status!r}")
            status = RECEIPT_STATUS[raw_status]
            error_code = receipt_error(field_value(form, "err"))
            occurred_at = receipt_time(field_value(form, "donedate"))
        else:
            raise InvalidCallback(f"Jasmin delivery report with unknown level {level!r}")
        return DeliveryReport(
            provider_message_id=message_id,
            status=status,
            raw_status=raw_status,
            error_code=error_code,
            # A retried callback repeats all three; the two levels of one message differ.
            event_id=f"jasmin:{message_id}:{level}:{raw_status}",
            occurred_at=occurred_at,
            raw=plain_fields(form),
        )

    def parse_mo(self, form: Mapping[str, Any]) -> InboundMessage:
        """Read an inbound message POSTed by a Jasmin HTTP client connector."""
        message_id = required_field(form, "id", self.name)
        sender = required_field(form, "from", self.name)
        recipient = required_field(form, "to", self.name)
        binary = field_value(form, "binary")
        if binary is not None:
            try:
                content = bytes.fromhex(binary)
            except ValueError:
                raise InvalidCallback("Jasmin inbound message with invalid 'binary'") from None
        else:
            content = (field_value(form, "content") or "").encode("utf-8")
        body = decode_short_message(content, data_coding(field_value(form, "coding")))
        return InboundMessage(
            from_=sender,
            to=recipient,
            body=body,
            provider_message_id=message_id,
            raw=plain_fields(form),
            media_urls=inbound_media_urls(form),
        )

    def dlr_ack(self) -> tuple[int, str]:
        return 200, "ACK/Jasmin"

    def mo_ack(self) -> tuple[int, str]:
        return 200, "ACK/Jasmin"

    def health(self) -> bool:
        """Whether Jasmin's HTTP API answers ``/ping`` (it needs no credentials)."""
        try:
            answer = http_get(self._url("/ping"), {}, timeout=min(self.timeout, 5.0), gateway=self.name)
        except GatewayTransportError:
            return False
        return answer.status == 200 and answer.body == "Jasmin/PONG"

    def _url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def _redact(self, text: str) -> str:
        # Jasmin names the username in authentication failures; both stay out of messages and logs.
        return redact(text, self.password, self.username)


def data_coding(value: str | None) -> str:
    """The MO's data_coding as digits. Jasmin 0.11.0 sends the raw byte (``\\x08``), not ``8``."""
    if not value:
        return "0"
    if len(value) == 1 and not value.isdigit():
        return str(ord(value))
    return value


def decode_short_message(content: bytes, coding: str) -> str:
    """Decode the bytes of a short message by its SMPP data_coding."""
    if coding == "8":
        return content.decode("utf-16-be", errors="replace")
    if coding == "0":
        # SMSC default alphabet: GSM 03.38, one septet per byte. Some SMSCs send Latin-1 instead.
        try:
            return gsm7_decode(list(content))
        except ValueError:
            return content.decode("latin-1")
    if coding == "1":
        return content.decode("ascii", errors="replace")
    return content.decode("latin-1")


def receipt_error(err: str | None) -> str | None:
    """The receipt's ``err`` when it names an error (not absent, ``ND`` or all zeros)."""
    if not err or err == "ND" or set(err) == {"0"}:
        return None
    return err


def receipt_time(value: str | None) -> datetime | None:
    """A receipt's ``YYMMDDhhmm[ss]`` date. SMSCs do not say their time zone; UTC is assumed."""
    for pattern, length in (("%y%m%d%H%M%S", 12), ("%y%m%d%H%M", 10)):
        if value and len(value) == length and value.isdigit():
            try:
                return datetime.strptime(value, pattern).replace(tzinfo=UTC)
            except ValueError:
                return None
    return None
