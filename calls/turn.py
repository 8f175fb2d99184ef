"""ICE servers for calls, with time-limited TURN credentials (the TURN REST scheme).

FastSock and coturn (``use-auth-secret``) share one secret, ``TURN_SHARED_SECRET``. A credential
is the username ``"<expiry>:<user id>"`` (expiry in Unix seconds) and the password
``base64(HMAC-SHA1(secret, username))``. coturn recomputes the password from the username and
refuses a username whose expiry has passed, so nothing is stored on either side and a credential
cannot be stretched without the secret. See docs/calls.md and deploy/coturn/README.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NotRequired, TypedDict

from django.conf import settings
from django.utils import timezone

if TYPE_CHECKING:
    from accounts.models import User


class TurnCredentials(TypedDict):
    username: str
    credential: str
    ttl: int
    expires_at: datetime


class IceServer(TypedDict):
    """One RTCIceServer, as ``new RTCPeerConnection({iceServers})`` takes it."""

    urls: list[str]
    username: NotRequired[str]
    credential: NotRequired[str]


def turn_credentials(*, user_id: int, now: datetime | None = None) -> TurnCredentials:
    """Sign a TURN username for ``user_id`` valid for ``TURN_CREDENTIAL_TTL`` seconds from ``now``.

    Precondition: ``TURN_SHARED_SECRET`` is set.
    """
    secret = settings.TURN_SHARED_SECRET
    if not secret:
        raise ValueError("TURN_SHARED_SECRET is not set; no TURN credentials can be signed.")
    ttl = int(settings.TURN_CREDENTIAL_TTL)
    issued = now or timezone.now()
    expiry = int(issued.timestamp()) + ttl
    username = f"{expiry}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return {
        "username": username,
        "credential": base64.b64encode(digest).decode("ascii"),
        "ttl": ttl,
        "expires_at": datetime.fromtimestamp(expiry, tz=UTC),
    }


def ice_servers_for(user: User, *, now: datetime | None = None) -> list[IceServer]:
    """The ICE servers ``user`` may use: every STUN URL, then TURN with fresh credentials.

    TURN appears only when both ``TURN_URLS`` and ``TURN_SHARED_SECRET`` are set; a TURN entry
    without working credentials would only make browsers wait for it to fail.
    """
    servers: list[IceServer] = [{"urls": [url]} for url in settings.STUN_URLS]
    if settings.TURN_URLS and settings.TURN_SHARED_SECRET:
        credentials = turn_credentials(user_id=user.pk, now=now)
        servers.append(
            {
                "urls": list(settings.TURN_URLS),
                "username": credentials["username"],
                "credential": credentials["credential"],
            }
        )
    return servers
