"""A small client for Janus's HTTP API and admin API: the SFU behind group calls.

FastSock is Janus's control plane. Through the admin API (``JANUS_ADMIN_URL``, authenticated by
``JANUS_ADMIN_SECRET``) it grants and revokes per-user tokens (``add_token`` / ``remove_token``,
Janus's ``token_auth``), and drives the VideoRoom plugin with ``message_plugin``: create (with
the plugin's ``admin_key``), destroy, exists, list and listparticipants. That needs no Janus
session of FastSock's own, so no token of FastSock's own either. The Janus API proper
(``JANUS_URL``: sessions and handles) is what browsers use with their token;
:meth:`JanusClient.session_create` and :meth:`JanusClient.attach` speak it too.

Every failure is a :class:`JanusError`: :class:`JanusUnavailableError` when Janus could not be
reached or answered something that is not Janus JSON, :class:`JanusRequestError` when Janus (or
the plugin) refused, with its code and reason. Secrets (admin secret, admin key, room secrets,
tokens) never appear in an exception or a log line. :func:`janus_client` is the one place a
client is made, so tests and other deployments can swap it.
"""

from __future__ import annotations

import http.client
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

VIDEOROOM = "janus.plugin.videoroom"
# Janus's own error codes (janus/apierror.h) and the VideoRoom plugin's (plugins/janus_videoroom.c).
UNAUTHORIZED = 403
TOKEN_NOT_FOUND = 490  # "Error removing token": remove_token of a token Janus does not hold
VIDEOROOM_NO_SUCH_ROOM = 426
VIDEOROOM_ROOM_EXISTS = 427


class JanusError(Exception):
    """Janus could not do what was asked."""


class JanusUnavailableError(JanusError):
    """Janus could not be reached, or its answer was not Janus JSON."""


class JanusRequestError(JanusError):
    """Janus, or its VideoRoom plugin, refused a request; ``code`` and ``reason`` are Janus's."""

    def __init__(self, request: str, code: int, reason: str) -> None:
        super().__init__(f"Janus refused {request}: {code} {reason}")
        self.request = request
        self.code = code
        self.reason = reason


class JanusNotConfiguredError(JanusUnavailableError):
    """A setting Janus needs (URL, admin URL or a secret) is not set."""


@dataclass(frozen=True)
class JanusClient:
    """Talks to one Janus over plain HTTP; cheap to make, holds no connection."""

    url: str
    admin_url: str
    admin_secret: str
    videoroom_admin_key: str
    timeout: float = 5.0

    @classmethod
    def from_settings(cls) -> JanusClient:
        missing = [
            name
            for name in ("JANUS_URL", "JANUS_ADMIN_URL", "JANUS_ADMIN_SECRET", "JANUS_VIDEOROOM_ADMIN_KEY")
            if not getattr(settings, name, "")
        ]
        if missing:
            raise JanusNotConfiguredError(f"Janus is not configured: set {', '.join(missing)}.")
        return cls(
            url=settings.JANUS_URL,
            admin_url=settings.JANUS_ADMIN_URL,
            admin_secret=settings.JANUS_ADMIN_SECRET,
            videoroom_admin_key=settings.JANUS_VIDEOROOM_ADMIN_KEY,
            timeout=float(settings.JANUS_TIMEOUT_SECONDS),
        )

    def __repr__(self) -> str:  # the dataclass default would print the secrets
        return f"JanusClient(url={self.url!r}, admin_url={self.admin_url!r})"

    # --- Admin API: tokens ------------------------------------------------------------------

    def add_token(self, token: str, *, plugins: Iterable[str] = (VIDEOROOM,)) -> None:
        """Let ``token`` open Janus sessions and attach to ``plugins`` (never to all of them)."""
        plugin_list = list(plugins)
        if not plugin_list:
            raise ValueError("A token must be limited to named plugins; none were given.")
        self._admin("add_token", {"token": token, "plugins": plugin_list})

    def remove_token(self, token: str) -> None:
        """Revoke ``token``; Janus refuses every request carrying it from now on. Idempotent."""
        try:
            self._admin("remove_token", {"token": token})
        except JanusRequestError as error:
            if error.code != TOKEN_NOT_FOUND:
                raise

    def list_tokens(self) -> list[str]:
        reply = self._admin("list_tokens", {})
        return [entry.get("token", "") for entry in reply.get("data", {}).get("tokens", [])]

    # --- Admin API: the VideoRoom plugin ----------------------------------------------------

    def room_create(
        self,
        *,
        room: int,
        secret: str,
        pin: str,
        publishers: int,
        allowed: Iterable[str] = (),
        description: str = "",
    ) -> None:
        """Create a VideoRoom room (listed, not private) that only ``secret`` can edit or destroy.

        Joining needs ``pin``; publishing also needs a token on the room's ``allowed`` list (the
        ``token`` of the join request), so a token granted for one room cannot publish in another.
        """
        request: dict[str, Any] = {
            "request": "create",
            "admin_key": self.videoroom_admin_key,
            "room": room,
            "secret": secret,
            "pin": pin,
            "publishers": publishers,
            "is_private": False,
            "permanent": False,
            "allowed": list(allowed),
        }
        if description:
            request["description"] = description[:100]
        self._videoroom(request, what="create")

    def room_allow(self, *, room: int, secret: str, tokens: Iterable[str], allow: bool = True) -> None:
        """Add ``tokens`` to the room's allowed list (or take them off it with ``allow=False``)."""
        request = {
            "request": "allowed",
            "room": room,
            "secret": secret,
            "action": "add" if allow else "remove",
            "allowed": list(tokens),
        }
        self._videoroom(request, what="allowed")

    def room_destroy(self, *, room: int, secret: str) -> bool:
        """Destroy the room (kicking whoever is in it); False if Janus had no such room."""
        try:
            self._videoroom({"request": "destroy", "room": room, "secret": secret}, what="destroy")
        except JanusRequestError as error:
            if error.code == VIDEOROOM_NO_SUCH_ROOM:
                return False
            raise
        return True

    def room_exists(self, room: int) -> bool:
        return bool(self._videoroom({"request": "exists", "room": room}, what="exists").get("exists"))

    def room_list(self) -> list[dict[str, Any]]:
        """The rooms Janus lists (those not private), as the plugin describes them."""
        return list(self._videoroom({"request": "list"}, what="list").get("list", []))

    def room_participants(self, room: int) -> list[dict[str, Any]]:
        """Who is in the room now (Janus's ``listparticipants``); raises for a missing room."""
        reply = self._videoroom({"request": "listparticipants", "room": room}, what="listparticipants")
        return list(reply.get("participants", []))

    # --- Janus API: what a browser does with its token --------------------------------------

    def info(self) -> dict[str, Any]:
        return self._get(f"{self.url}/info", what="info")

    def session_create(self, *, token: str) -> int:
        """Open a Janus session with ``token``; Janus refuses (403) a token it does not hold."""
        reply = self._call(self.url, {"janus": "create", "token": token}, what="create")
        return int(reply["data"]["id"])

    def attach(self, session_id: int, *, token: str, plugin: str = VIDEOROOM) -> int:
        """Attach a handle for ``plugin`` to the session; refused unless the token grants the plugin."""
        reply = self._call(
            f"{self.url}/{int(session_id)}", {"janus": "attach", "plugin": plugin, "token": token}, what="attach"
        )
        return int(reply["data"]["id"])

    def session_destroy(self, session_id: int, *, token: str) -> None:
        self._call(f"{self.url}/{int(session_id)}", {"janus": "destroy", "token": token}, what="destroy")

    # --- Transport --------------------------------------------------------------------------

    def _admin(self, request: str, fields: dict[str, Any]) -> dict[str, Any]:
        return self._call(self.admin_url, {"janus": request, "admin_secret": self.admin_secret, **fields}, what=request)

    def _videoroom(self, request: dict[str, Any], *, what: str) -> dict[str, Any]:
        reply = self._admin("message_plugin", {"plugin": VIDEOROOM, "request": request})
        response = reply.get("response")
        if not isinstance(response, dict):
            raise JanusUnavailableError(f"Janus answered videoroom {what} without a response.")
        if "error_code" in response:
            raise JanusRequestError(f"videoroom {what}", int(response["error_code"]), str(response.get("error", "")))
        return response

    def _call(self, url: str, body: dict[str, Any], *, what: str) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(8)}
        reply = post_json(url, body, timeout=self.timeout, what=what)
        if reply.get("janus") == "error":
            error = reply.get("error") or {}
            raise JanusRequestError(what, int(error.get("code", 0)), str(error.get("reason", "")))
        if reply.get("janus") not in ("success", "server_info"):
            raise JanusUnavailableError(f"Janus answered {what} with {reply.get('janus')!r}.")
        return reply

    def _get(self, url: str, *, what: str) -> dict[str, Any]:
        request = urllib.request.Request(url, method="GET")  # noqa: S310 - URL from settings
        return _open(request, timeout=self.timeout, what=what)


def post_json(url: str, body: dict[str, Any], *, timeout: float, what: str) -> dict[str, Any]:
    """POST ``body`` as JSON and return Janus's JSON answer (the HTTP boundary; tests fake it)."""
    request = urllib.request.Request(  # noqa: S310 - URL from settings
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    return _open(request, timeout=timeout, what=what)


def _open(request: urllib.request.Request, *, timeout: float, what: str) -> dict[str, Any]:
    # Messages name the request and where it went, never the body: it carries secrets.
    where = request.full_url.split("?")[0]
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - URL from settings
            raw = response.read()
    except urllib.error.HTTPError as error:
        # Janus answers some refusals (long-polls without a token) with an HTTP status.
        raise JanusRequestError(what, error.code, error.reason or "HTTP error") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", error)
        raise JanusUnavailableError(f"Janus at {where} did not answer {what}: {reason}") from None
    try:
        reply = json.loads(raw)
    except ValueError:
        raise JanusUnavailableError(f"Janus at {where} answered {what} with something that is not JSON.") from None
    if not isinstance(reply, dict):
        raise JanusUnavailableError(f"Janus at {where} answered {what} with something that is not a JSON object.")
    return reply


def janus_client() -> JanusClient:
    """The Janus client services use; raises :class:`JanusNotConfiguredError` without the settings."""
    return JanusClient.from_settings()
