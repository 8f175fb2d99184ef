"""Signed webhook URLs for gateways, and their checks.

Neither Jasmin nor Kannel signs its callbacks, so the URL FastSock hands a gateway carries the
proof: an HMAC-SHA256 with the connector's webhook secret (from the environment variable the
connector names) over what the URL is for — a delivery report URL over the message sid and an
expiry, an inbound or call-events URL over the connector and its purpose. A request must also
come from one of the connector's allowed networks. Anything else changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import time
from urllib.parse import urlencode

from django.conf import settings

from fastsock.core.errors import ApiError, ErrorCode

from .models import Connector

DLR_LIFETIME_SECONDS = 7 * 24 * 3600  # delivery reports can come days later (expired messages)


class WebhookRefused(ApiError):  # noqa: N818 - reads as what happened
    pass


def _secret(connector: Connector) -> bytes:
    value = os.environ.get(connector.webhook_secret_env, "")
    if len(value) < 16:
        # No (or a toy) secret: refuse rather than accept anything signed with an empty key.
        raise WebhookRefused(ErrorCode.UNAVAILABLE, "This connector's webhook secret is not configured.")
    return value.encode()


def _sign(connector: Connector, message: str) -> str:
    return hmac.new(_secret(connector), message.encode(), hashlib.sha256).hexdigest()


def _base(connector: Connector, purpose: str) -> str:
    area = "calls" if purpose == "events" else "sms"
    return f"{settings.PUBLIC_BASE_URL}/webhooks/{area}/{connector.name}/{purpose}"


def dlr_url(connector: Connector, sid: str, *, now: float | None = None) -> str:
    expires = int((now or time.time()) + DLR_LIFETIME_SECONDS)
    signature = _sign(connector, f"dlr:{connector.name}:{sid}:{expires}")
    return f"{_base(connector, 'dlr')}?{urlencode({'sid': sid, 'exp': expires, 'sig': signature})}"


def fixed_url(connector: Connector, purpose: str) -> str:
    """The inbound (``inbound``) or call events (``events``) URL to configure in the gateway."""
    return f"{_base(connector, purpose)}?{urlencode({'sig': _sign(connector, f'{purpose}:{connector.name}')})}"


def check_source(connector: Connector, address: str) -> None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise WebhookRefused(ErrorCode.FORBIDDEN, "Unknown source address.") from None
    if not any(ip in ipaddress.ip_network(network, strict=False) for network in connector.allowed_networks):
        raise WebhookRefused(ErrorCode.FORBIDDEN, "This source may not call this webhook.")


def check_signature(
    connector: Connector, purpose: str, params: dict[str, str], *, now: float | None = None
) -> str | None:
    """Raise unless the URL's signature is right (and, for a DLR, not expired); the DLR's sid."""
    given = params.get("sig", "")
    if purpose == "dlr":
        sid, expires = params.get("sid", ""), params.get("exp", "")
        if not sid or not expires.isdigit():
            raise WebhookRefused(ErrorCode.NOT_AUTHENTICATED, "This webhook URL is not signed.")
        expected = _sign(connector, f"dlr:{connector.name}:{sid}:{expires}")
        if not hmac.compare_digest(given, expected):
            raise WebhookRefused(ErrorCode.NOT_AUTHENTICATED, "Bad webhook signature.")
        if int(expires) < (now or time.time()):
            raise WebhookRefused(ErrorCode.NOT_AUTHENTICATED, "This webhook URL has expired.")
        return sid
    if not hmac.compare_digest(given, _sign(connector, f"{purpose}:{connector.name}")):
        raise WebhookRefused(ErrorCode.NOT_AUTHENTICATED, "Bad webhook signature.")
    return None
