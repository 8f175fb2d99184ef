"""Kannel through smsbox's ``/cgi-bin/sendsms``, with delivery reports and inbound messages as GETs.

Kannel answers a send with no message id, so FastSock's message sid is the correlation key: the
adapter adds it to the request's ``dlr_url`` as ``kannel_ref``, next to Kannel escape codes
(:data:`DLR_FIELDS`) that Kannel fills in when it calls back. Kannel reads ``%`` in a dlr-url
as the start of an escape code, so every ``%`` already in the URL is written ``%%``.

Inbound messages come from an ``sms-service`` group whose ``get-url`` is
:func:`sms_service_get_url` of FastSock's inbound URL. The group needs ``max-messages = 0`` and
``omit-empty = true`` (Kannel would otherwise send the HTTP answer back as a reply SMS), and
smsbox needs ``mo-recode = true`` so UCS-2 texts arrive as UTF-8 (``%b`` is the raw bytes).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from telecom.encoding import KANNEL_CODING, UCS2
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
    inbound_media_urls,
    plain_fields,
    redact,
    required_field,
)

NAME = "Kannel"
SENDSMS_PATH = "/cgi-bin/sendsms"
ACCEPTED_ANSWERS = ("0: Accepted for delivery", "3: Queued for later delivery")

# dlr-mask bits, which are also the `type` (%d) of each report.
DELIVERED = 1  # delivered to the phone
UNDELIVERED = 2  # not delivered to the phone
BUFFERED = 4  # queued on the SMSC
SMSC_ACK = 8  # the SMSC took the message (submit_sm_resp OK)
SMSC_REJECT = 16  # the SMSC refused it (submit_sm_resp error)
INTERMEDIATE = 32  # SMSC intermediate notification
DLR_MASK = DELIVERED | UNDELIVERED | BUFFERED | SMSC_ACK | SMSC_REJECT

KNOWN_TYPES = DLR_MASK | INTERMEDIATE
# A report's type may combine bits (Kannel sends 34 = 2 | 32 for an EXPIRED receipt); the
# strongest bit decides when the report carries no SMPP receipt to read the state from.
STATUS_BY_BIT: tuple[tuple[int, DeliveryStatus], ...] = (
    (DELIVERED, "delivered"),
    (UNDELIVERED, "undelivered"),
    (SMSC_REJECT, "failed"),
    (SMSC_ACK, "sent"),
    (BUFFERED, "sent"),
    (INTERMEDIATE, "sent"),
)

# Query fields the adapter adds to the dlr-url; Kannel replaces each escape code when it calls.
DLR_FIELDS: Mapping[str, str] = {
    "kannel_type": "%d",  # the report type, one of the mask bits above
    "kannel_reply": "%A",  # the SMSC's words: "ACK/", "NACK/0x…/…" or the SMPP receipt text
    "kannel_smsc": "%i",  # smsc-id of the connection
    "kannel_id": "%I",  # Kannel's own message id
    "kannel_foreign_id": "%F",  # the SMSC's message id
    "kannel_from": "%p",  # the handset
    "kannel_to": "%P",  # the original sender
    "kannel_time": "%T",  # UNIX time of the report
}
CORRELATION_FIELD = "kannel_ref"
# Query fields of the sms-service get-url for inbound messages.
MO_FIELDS: Mapping[str, str] = {
    "kannel_from": "%p",
    "kannel_to": "%P",
    "kannel_text": "%b",  # the whole text as received (%a would fold runs of spaces)
    "kannel_coding": "%c",
    "kannel_charset": "%C",
    "kannel_udh": "%u",
    "kannel_id": "%I",
    "kannel_smsc": "%i",
    "kannel_time": "%T",
}
RECEIPT_FIELD = re.compile(r"(\w+):(\S*)")
NACK = re.compile(r"^NACK/(0x[0-9a-fA-F]+|\d+)")


def kannel_literal(text: str) -> str:
    """``text`` written so Kannel's escape-code expansion gives it back unchanged."""
    return text.replace("%", "%%")


def with_fields(url: str, fields: Mapping[str, str]) -> str:
    """``url`` (made literal for Kannel) with ``fields`` appended to its query string."""
    separator = "&" if urllib.parse.urlsplit(url).query else ("" if url.endswith("?") else "?")
    return kannel_literal(url) + separator + "&".join(f"{key}={value}" for key, value in fields.items())


def sms_service_get_url(inbound_url: str) -> str:
    """The ``get-url`` of a Kannel ``sms-service`` group that delivers to ``inbound_url``."""
    return with_fields(inbound_url, MO_FIELDS)


@dataclass(frozen=True)
class KannelGateway:
    """Sends through one Kannel smsbox (sendsms interface); cheap to make, holds no connection."""

    base_url: str
    username: str
    password: str
    timeout: float = 10.0
    smsc: str | None = None
    name: str = NAME
    carries_media: ClassVar[bool] = False  # media go as links in the text (SendRequest.sms_text)

    def __repr__(self) -> str:
        return f"KannelGateway(base_url={self.base_url!r}, username={self.username!r}, smsc={self.smsc!r})"

    def send(self, req: SendRequest) -> SendResult:
        """Queue one message in Kannel; the provider message id is ``req.message_sid``.

        Raises :class:`GatewayRejected` for Kannel's 4xx answers (credentials, arguments, no
        route) and :class:`GatewayTransportError` when Kannel is unreachable or answers 5xx.
        """
        params: dict[str, str | bytes] = {
            "username": self.username,
            "password": self.password,
            "to": req.to,
            "dlr-mask": str(DLR_MASK),
            "dlr-url": self.dlr_url(req),
        }
        if req.from_:
            params["from"] = req.from_
        if self.smsc:
            params["smsc"] = self.smsc
        if req.encoding == UCS2:
            params["coding"] = str(KANNEL_CODING[UCS2])
            params["charset"] = "UTF-16BE"
            params["text"] = req.sms_text.encode("utf-16-be")
        else:
            params["charset"] = "UTF-8"
            params["text"] = req.sms_text
        answer = http_get(self._url(SENDSMS_PATH), params, timeout=self.timeout, gateway=self.name)
        if 200 <= answer.status < 300 and answer.body in ACCEPTED_ANSWERS:
            return SendResult(provider_message_id=req.message_sid, raw=answer.body)
        reason = self._redact(answer.body[:200])
        if answer.status < 400:
            raise GatewayTransportError(f"Kannel answered something unexpected: {answer.status} {reason}")
        raise GatewayRejected(self.name, answer.status, reason)

    def dlr_url(self, req: SendRequest) -> str:
        """The dlr-url Kannel gets: the request's URL with the sid and the report's escape codes."""
        reference = kannel_literal(urllib.parse.quote(req.message_sid, safe=""))
        return with_fields(req.dlr_url, {CORRELATION_FIELD: reference, **DLR_FIELDS})

    def parse_dlr(self, form: Mapping[str, Any]) -> DeliveryReport:
        """Read one of Kannel's delivery-report GETs (the query of the dlr-url it was given).

        Raises :class:`InvalidCallback` when a field is missing or the type is unknown.
        """
        reference = required_field(form, CORRELATION_FIELD, self.name)
        raw_type = required_field(form, "kannel_type", self.name)
        if not raw_type.isdigit() or not 0 < int(raw_type) <= KNOWN_TYPES or int(raw_type) & ~KNOWN_TYPES:
            raise InvalidCallback(f"Kannel delivery report with unknown type {raw_type!r}")
        report_type = int(raw_type)
        reply = field_value(form, "kannel_reply") or ""
        receipt = dict(RECEIPT_FIELD.findall(reply)) if "stat:" in reply else {}
        stat = receipt.get("stat", "")
        status = RECEIPT_STATUS.get(stat) or next(s for bit, s in STATUS_BY_BIT if report_type & bit)
        return DeliveryReport(
            provider_message_id=reference,
            status=status,
            raw_status=stat or reply or f"type {report_type}",
            error_code=report_error(report_type, reply, receipt.get("err")),
            event_id=f"kannel:{reference}:{report_type}:{stat}",
            occurred_at=unix_time(field_value(form, "kannel_time")),
            raw=plain_fields(form),
        )

    def parse_mo(self, form: Mapping[str, Any]) -> InboundMessage:
        """Read an inbound message from the sms-service ``get-url`` (:func:`sms_service_get_url`)."""
        coding = field_value(form, "kannel_coding") or "0"
        if coding == str(KANNEL_CODING[UCS2]):
            # Without mo-recode the text is raw UTF-16, which a query string cannot carry intact.
            raise InvalidCallback("Kannel inbound message in UCS-2: set mo-recode = true in smsbox")
        reference = field_value(form, "kannel_id") or ""
        return InboundMessage(
            from_=required_field(form, "kannel_from", self.name),
            to=required_field(form, "kannel_to", self.name),
            body=field_value(form, "kannel_text") or "",
            provider_message_id=reference,
            raw=plain_fields(form),
            media_urls=inbound_media_urls(form),
        )

    def dlr_ack(self) -> tuple[int, str]:
        return 200, "OK"

    def mo_ack(self) -> tuple[int, str]:
        # Empty: with omit-empty and max-messages = 0, Kannel sends nothing back to the handset.
        return 200, ""

    def health(self) -> bool:
        """Whether smsbox answers on its sendsms interface (an unauthenticated request, so 4xx)."""
        try:
            answer = http_get(self._url(SENDSMS_PATH), {}, timeout=min(self.timeout, 5.0), gateway=self.name)
        except GatewayTransportError:
            return False
        return answer.status < 500

    def _url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def _redact(self, text: str) -> str:
        return redact(text, self.password, self.username)


def report_error(report_type: int, reply: str, receipt_error: str | None) -> str | None:
    """The error a report names: the receipt's ``err``, or the command status of an SMSC NACK."""
    if receipt_error and set(receipt_error) != {"0"}:
        return receipt_error
    if report_type & SMSC_REJECT and (nack := NACK.match(reply)):
        return nack.group(1)
    return None


def unix_time(value: str | None) -> datetime | None:
    if not value or not value.isdigit():
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)
