"""What every SMS gateway adapter offers: send, parse callbacks, acknowledge them, report health.

An adapter turns FastSock's :class:`SendRequest` into one HTTP request to its gateway and turns
the gateway's callbacks (delivery reports and inbound messages) back into :class:`DeliveryReport`
and :class:`InboundMessage`. It holds no state and touches no database: the telecom services
decide what a report means for a message, and the webhook views decide whether a callback is
authentic before they hand its fields to ``parse_dlr`` or ``parse_mo``.

Failures are two kinds, because the caller reacts to them differently:
:class:`GatewayTransportError` (could not reach the gateway, it timed out or answered 5xx: try
again, or fail over to another connector) and :class:`GatewayRejected` (the gateway refused this
request for good: do not retry it anywhere as it is). Neither ever carries a credential.
"""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

from telecom.encoding import Encoding
from telecom.mms import text_with_links

DeliveryStatus = Literal["sent", "delivered", "undelivered", "failed"]
# "sent": the network took the message (or says it is still on its way); the others are final.
FINAL_STATUSES: frozenset[str] = frozenset({"delivered", "undelivered", "failed"})

# The stat of an SMPP delivery receipt (SMPP v3.4 Appendix B, Table B-2), as both gateways pass
# it on. ACCEPTD, ENROUTE and UNKNOWN are not final. REJECTD means the network refused the
# message ("failed"); the other negative states mean it did not reach the handset.
RECEIPT_STATUS: Mapping[str, DeliveryStatus] = {
    "DELIVRD": "delivered",
    "ACCEPTD": "sent",
    "ENROUTE": "sent",
    "UNKNOWN": "sent",
    "UNDELIV": "undelivered",
    "EXPIRED": "undelivered",
    "DELETED": "undelivered",
    "REJECTD": "failed",
}


class GatewayError(Exception):
    """A gateway could not do what was asked."""


class GatewayTransportError(GatewayError):
    """The gateway could not be reached, timed out or failed on its side (5xx): transient."""


class GatewayRejected(GatewayError):  # noqa: N818 - the name the telecom services use
    """The gateway refused the request for good; ``code`` is its HTTP status, ``reason`` its words."""

    def __init__(self, gateway: str, code: int, reason: str) -> None:
        super().__init__(f"{gateway} refused the message: {code} {reason}")
        self.gateway = gateway
        self.code = code
        self.reason = reason


class InvalidCallback(ValueError):  # noqa: N818 - reads as what it is, like Django's SuspiciousOperation
    """A gateway callback lacks a field the adapter needs, or has a value it does not know."""


@dataclass(frozen=True)
class SendRequest:
    """One outbound SMS. ``dlr_url`` is the full (signed) URL the gateway should call back.

    ``encoding`` is that of :attr:`sms_text`, counted when the message was accepted.
    """

    to: str
    from_: str
    body: str
    encoding: Encoding
    dlr_url: str
    message_sid: str
    media_urls: tuple[str, ...] = ()

    @property
    def sms_text(self) -> str:
        """What an adapter that cannot carry MMS sends: the body with the media links after it."""
        return text_with_links(self.body, self.media_urls)


@dataclass(frozen=True)
class SendResult:
    """The gateway accepted the message; ``provider_message_id`` is what its reports will name."""

    provider_message_id: str
    raw: str


@dataclass(frozen=True)
class DeliveryReport:
    """One delivery report, normalized.

    ``event_id`` is the same for a repeated delivery of the same report and differs between two
    reports about one message (a gateway retries, and some send one report per level), so the
    caller can store each report once.
    """

    provider_message_id: str
    status: DeliveryStatus
    raw_status: str
    error_code: str | None
    event_id: str
    occurred_at: datetime | None = None
    raw: Mapping[str, str] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class InboundMessage:
    """One inbound SMS (MO), its text decoded. Addresses are as the gateway reports them.

    ``media_urls`` are the links an MMS-capable gateway gave for the media (see
    :func:`inbound_media_urls`), unchecked: fetching them decides what they are.
    """

    from_: str
    to: str
    body: str
    provider_message_id: str
    raw: Mapping[str, str] = field(default_factory=dict)
    media_urls: tuple[str, ...] = ()


class SmsGateway(Protocol):
    """What the telecom services and webhook views rely on, whatever the gateway."""

    name: str
    # False: the gateway sends SMS only, so ``send`` sends ``req.sms_text`` (links to the media).
    carries_media: ClassVar[bool]

    def send(self, req: SendRequest) -> SendResult: ...

    def parse_dlr(self, form: Mapping[str, Any]) -> DeliveryReport: ...

    def parse_mo(self, form: Mapping[str, Any]) -> InboundMessage: ...

    def dlr_ack(self) -> tuple[int, str]: ...

    def mo_ack(self) -> tuple[int, str]: ...

    def health(self) -> bool: ...


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str


def http_get(url: str, params: Mapping[str, str | bytes], *, timeout: float, gateway: str) -> HttpAnswer:
    """GET ``url`` with ``params``; any answer below 500 is returned, the rest raise.

    Raises :class:`GatewayTransportError` for refused connections, timeouts and 5xx answers. The
    message names the gateway and the host only: the query string holds credentials.
    """
    query = urllib.parse.urlencode(params)
    request = urllib.request.Request(f"{url}?{query}" if query else url, method="GET")  # noqa: S310 - http(s) from config
    return _exchange(request, url, timeout=timeout, gateway=gateway)


def http_post_form(url: str, params: Mapping[str, str | bytes], *, timeout: float, gateway: str) -> HttpAnswer:
    """POST ``params`` as a form to ``url``; answers and errors as :func:`http_get`.

    Credentials belong in a body: a query string ends up in the gateway's access log.
    """
    body = urllib.parse.urlencode(params).encode("ascii")
    request = urllib.request.Request(  # noqa: S310 - http(s) from config
        url, data=body, method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    return _exchange(request, url, timeout=timeout, gateway=gateway)


def _exchange(request: urllib.request.Request, url: str, *, timeout: float, gateway: str) -> HttpAnswer:
    host = urllib.parse.urlsplit(url).netloc
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer = HttpAnswer(response.status, _text(response.read()))
    except urllib.error.HTTPError as error:
        answer = HttpAnswer(error.code, _text(error.read()))
    except (http.client.HTTPException, OSError) as error:  # URLError and timeouts are OSErrors
        reason = getattr(error, "reason", error)
        raise GatewayTransportError(f"{gateway} at {host} is unreachable: {type(reason).__name__}") from None
    if answer.status >= 500:
        raise GatewayTransportError(f"{gateway} at {host} failed: {answer.status} {answer.body[:200]}")
    return answer


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace").strip()


def field_value(form: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    """One field of a callback as text: Django's QueryDict and plain dicts of str or list alike."""
    value = form.get(name, default)
    if isinstance(value, list | tuple):
        value = value[-1] if value else default
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return value


def required_field(form: Mapping[str, Any], name: str, gateway: str) -> str:
    value = field_value(form, name)
    if value is None or value == "":
        raise InvalidCallback(f"{gateway} callback without {name!r}")
    return value


def field_values(form: Mapping[str, Any], name: str) -> list[str]:
    """Every value of a repeated callback field, in order: QueryDict and plain dicts alike."""
    getlist = getattr(form, "getlist", None)
    values = getlist(name) if callable(getlist) else form.get(name, [])
    if not isinstance(values, list | tuple):
        values = [values]
    return [value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value) for value in values]


# Twilio's numbered media fields, which MMS gateways that mimic Twilio's webhooks send too.
_TWILIO_MEDIA_FIELD = re.compile(r"^MediaUrl(\d{1,3})$")


def inbound_media_urls(form: Mapping[str, Any]) -> tuple[str, ...]:
    """The media links of an inbound MMS callback: every ``media_url`` (repeated), then
    Twilio-style ``MediaUrl0``, ``MediaUrl1``… in their numbers' order; blanks are skipped."""
    numbered = sorted((int(match.group(1)), str(key)) for key in form if (match := _TWILIO_MEDIA_FIELD.match(str(key))))
    urls = field_values(form, "media_url") + [field_value(form, key) or "" for _, key in numbered]
    return tuple(url.strip() for url in urls if url and url.strip())


def plain_fields(form: Mapping[str, Any]) -> dict[str, str]:
    """The callback's fields as a plain dict of text, for ``raw``; NUL characters (Jasmin sends
    ``coding`` 0 as a raw byte) are written ``\\0``, as PostgreSQL's JSON refuses them."""
    return {str(key): (field_value(form, key) or "").replace("\x00", "\\0") for key in form}


def redact(text: str, *secrets: str) -> str:
    """``text`` with each (non-empty) secret replaced, for gateway answers that quote them back."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text
