"""FastSock's one door to Asterisk's REST Interface (ARI): REST calls and the events websocket.

Everything voice-related talks to Asterisk through :class:`AriClient`, so that the client library
can be swapped without touching the orchestrator. The library is ``asyncari`` (the maintained
Python 3 successor of ``ari``), used through its lower layers:

- ``asyncari.client.Client`` loads Asterisk's Swagger description at connect (``GET
  /ari/api-docs/resources.json`` and every API declaration it lists, ``events.json``
  included; a server that does not serve them cannot be used), opens the events websocket
  through the described ``eventWebsocket`` operation and reads its frames.
- REST calls go through the described operations (``asyncswagger11``, asyncari's Swagger
  client) by their nicknames and answer raw JSON dicts. :meth:`AriClient.rest` is that alone,
  without the websocket, for code that only originates or hangs up (a Celery task).

What is not used, and why: asyncari's object layer (``Channel``, ``Bridge``, state machines)
and its event dispatch. Its dispatcher hands each event to listeners through an unbuffered
stream and tears the whole connection down when a listener holds one event for more than
1.5 s (``Client._check_runtime``), which an orchestrator awaiting a REST call per event would
trip; here every event goes into an unbounded buffer instead, read by :meth:`AriClient.events`.
Its HTTP client is replaced by :class:`_AriHttpClient` because ``asyncari.connect`` puts
``api_key=user:password`` in every URL (which httpx logs at INFO), retries a failed request on
a client it has just closed, and would put an HTTP Basic header into the websocket's query
string; this one sends HTTP Basic in a header on every request and on the websocket upgrade,
never retries (a retried originate could ring a phone twice), and turns failures into the
:class:`AriError` family. Credentials come only from the arguments of :meth:`AriClient.connect`
and :meth:`AriClient.rest`, and appear in no URL, message or log line.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import math
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any

import anyio
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from asyncari.client import Client
from asyncswagger11.client import SwaggerClient
from asyncswagger11.http_client import AsynchronousHttpClient, BasicAuthenticator
from asyncswagger11.processors import SwaggerError
from asyncwebsockets import create_websocket
from wsproto.events import RejectConnection

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 10.0


class AriError(Exception):
    """ARI answered an HTTP error; ``status`` is its code (None when there was no answer)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AriNotFound(AriError):  # noqa: N818 - the names the orchestrator uses
    """404: the channel, bridge, playback or recording does not exist (any more)."""


class AriConflict(AriError):  # noqa: N818
    """409: e.g. a channelId that already exists (so a repeated originate rings nobody twice)."""


class AriUnauthorized(AriError):  # noqa: N818
    """401: Asterisk refused the ARI user or password; retrying will not help."""


class AriUnavailable(AriError):  # noqa: N818
    """Asterisk could not be reached, timed out or failed on its side (5xx): transient."""


def _error_for(response: httpx.Response, what: str) -> AriError:
    """The :class:`AriError` for an HTTP error answer; ``what`` names the request without its query."""
    reason = response.reason_phrase or "error"
    with contextlib.suppress(ValueError, AttributeError):
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            reason = body["message"]
    status = response.status_code
    message = f"{what}: {status} {reason}"
    if status == 401:
        return AriUnauthorized(f"{what}: 401 ARI refused the credentials", status=status)
    if status == 404:
        return AriNotFound(message, status=status)
    if status == 409:
        return AriConflict(message, status=status)
    if status >= 500:
        return AriUnavailable(message, status=status)
    return AriError(message, status=status)


class _AriHttpClient(AsynchronousHttpClient):
    """asyncswagger11's HTTP client with HTTP Basic in headers, timeouts, no retries, AriError."""

    def __init__(self, *, host: str, username: str, password: str, timeout: float) -> None:
        # The library's own __init__ would open a session with a ten-minute timeout.
        self.authenticator = BasicAuthenticator(host, username, password)
        self.websockets: set[Any] = set()
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._authorization = f"Basic {token}"
        self.session = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_keepalive_connections=4, max_connections=16),
        )
        self._timeout = timeout

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        what = f"{method} {urllib.parse.urlsplit(url).path}"
        headers = {**(headers or {}), "Authorization": self._authorization}
        try:
            response = await self.session.request(method, url, params=params or None, content=data, headers=headers)
        except httpx.TransportError as exc:
            raise AriUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise _error_for(response, what)
        return response

    async def ws_connect(
        self, url: str, params: dict[str, Any] | None = None, headers: Iterable[tuple[str, str]] | None = None
    ) -> Any:
        what = f"websocket {urllib.parse.urlsplit(url).path}"
        query = urllib.parse.urlencode(params or {})
        target = f"{url}?{query}" if query else url
        all_headers = [*(headers or []), ("Authorization", self._authorization)]
        try:
            with anyio.fail_after(self._timeout):
                websocket = await create_websocket(target, headers=all_headers)
        except TimeoutError as exc:
            raise AriUnavailable(f"{what}: no answer within {self._timeout:g} s") from exc
        except OSError as exc:  # refused, reset, or the upgrade was answered with an HTTP error
            rejection = exc.args[1] if len(exc.args) > 1 else None
            if isinstance(rejection, RejectConnection):
                status = rejection.status_code
                if status == 401:
                    raise AriUnauthorized(f"{what}: 401 ARI refused the credentials", status=401) from None
                error_type = AriUnavailable if status >= 500 else AriError
                raise error_type(f"{what}: {status} upgrade refused", status=status) from None
            raise AriUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        self.websockets.add(websocket)
        return websocket


class _EventsClient(Client):
    """asyncari's client, with every event passed on raw and in order into an unbounded buffer."""

    def __init__(self, taskgroup: Any, base_url: str, app: str, http_client: _AriHttpClient) -> None:
        super().__init__(taskgroup, base_url, app, http_client)
        self.events_in: MemoryObjectSendStream[dict[str, Any]]
        self.events_out: MemoryObjectReceiveStream[dict[str, Any]]
        self.events_in, self.events_out = anyio.create_memory_object_stream(math.inf)
        self.connect_error: BaseException | None = None
        self.connected = False

    async def process_ws(self, msg: dict[str, Any]) -> None:
        # Never blocks: the reader must keep up however slowly the orchestrator consumes.
        self.events_in.send_nowait(msg)

    async def _run(self, evt: anyio.Event | None = None) -> None:
        try:
            await super()._run(_Connected(evt, self))
        except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError) as exc:
            if not self.connected:
                self.connect_error = exc
            else:
                logger.info("ARI events websocket closed by Asterisk (%s)", type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - whatever ends the reader ends events(), told once
            if not self.connected:
                self.connect_error = exc
            else:
                logger.warning("ARI events websocket failed: %s", type(exc).__name__)
        finally:
            logger.info("ARI events websocket ended")
            self.events_in.close()
            if evt is not None and not evt.is_set():
                evt.set()


class _Connected:
    """Stands in for the event ``Client._run`` sets once the websocket is open."""

    def __init__(self, evt: anyio.Event | None, client: _EventsClient) -> None:
        self._evt = evt
        self._client = client

    def set(self) -> None:
        self._client.connected = True
        if self._evt is not None:
            self._evt.set()


def _server_root(url: str) -> str:
    """``http://host:8088`` from ``http://host:8088``, ``…/`` or ``…/ari``; asyncari appends ``ari/…``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the ARI url must be http(s)://host:port")
    path = parts.path.rstrip("/")
    path = path.removesuffix("/ari")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path + "/", "", ""))


def _single_exception(group: BaseExceptionGroup[Any]) -> BaseException | None:
    """The one exception inside (possibly nested) task group errors, else None."""
    leaves: list[BaseException] = []

    def collect(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                collect(inner)
        else:
            leaves.append(error)

    collect(group)
    return leaves[0] if len(leaves) == 1 else None


class AriClient:
    """One connection to one Asterisk for one Stasis application: REST calls and its events.

    Open it with ``async with AriClient.connect(url=…, app=…, username=…, password=…) as ari``;
    every method raises :class:`AriNotFound`, :class:`AriConflict`, :class:`AriUnauthorized`,
    :class:`AriUnavailable` or :class:`AriError`.
    """

    def __init__(
        self, swagger: SwaggerClient, app: str | None, events: MemoryObjectReceiveStream[dict[str, Any]] | None
    ) -> None:
        self._swagger = swagger
        self._events = events
        self.app = app

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls,
        *,
        url: str,
        app: str,
        username: str,
        password: str,
        request_timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> AsyncIterator[AriClient]:
        """Load the API description, open the events websocket for ``app``, and close both on exit.

        Raises :class:`AriUnavailable` when Asterisk cannot be reached or its description
        cannot be read, :class:`AriUnauthorized` for wrong credentials.
        """
        root = _server_root(url)
        http_client = _AriHttpClient(
            host=urllib.parse.urlsplit(root).hostname or "",
            username=username,
            password=password,
            timeout=request_timeout,
        )
        try:
            async with anyio.create_task_group() as taskgroup:
                client = _EventsClient(taskgroup, root, app, http_client)
                try:
                    await _enter(client)
                    try:
                        yield cls(client.swagger, app, client.events_out)
                    finally:
                        with anyio.CancelScope(shield=True):
                            await client.close()
                finally:
                    taskgroup.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            single = _single_exception(group)
            if single is None:
                raise
            raise single from None
        finally:
            with anyio.CancelScope(shield=True):
                await http_client.close()

    @classmethod
    @contextlib.asynccontextmanager
    async def rest(
        cls, *, url: str, username: str, password: str, request_timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> AsyncIterator[AriClient]:
        """REST calls only, no events websocket: for a task that just originates or hangs up.

        It still reads the API description first (asyncari calls operations by it), so it
        raises like :meth:`connect`. Methods that need an app (``originate``,
        ``create_channel``) must be given one; :meth:`events` is not available.
        """
        root = _server_root(url)
        http_client = _AriHttpClient(
            host=urllib.parse.urlsplit(root).hostname or "",
            username=username,
            password=password,
            timeout=request_timeout,
        )
        try:
            swagger = SwaggerClient(
                http_client=http_client, url=urllib.parse.urljoin(root, "ari/api-docs/resources.json")
            )
            await _describe(swagger.init())
            yield cls(swagger, None, None)
        finally:
            with anyio.CancelScope(shield=True):
                await http_client.close()

    def events(self) -> AsyncIterator[dict[str, Any]]:
        """Every ARI event as its raw JSON dict, in order; ends when the websocket closes.

        One consumer: events are buffered without limit until read, and each is read once.
        """
        return self._iterate_events()

    async def _iterate_events(self) -> AsyncIterator[dict[str, Any]]:
        if self._events is None:
            raise RuntimeError("a client from AriClient.rest() has no events: use AriClient.connect()")
        with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError):
            while True:
                yield await self._events.receive()

    def _app(self, app: str | None) -> str:
        chosen = app or self.app
        if not chosen:
            raise ValueError("no Stasis app: pass app= (a client from AriClient.rest() has none)")
        return chosen

    async def _call(self, resource: str, nickname: str, **params: Any) -> httpx.Response:
        """Call the described operation ``resource.nickname`` with the parameters that are set."""
        described = self._swagger.resources.get(resource)
        operation = described.operations.get(nickname) if described is not None else None
        if operation is None:
            raise AriError(f"this Asterisk does not describe {resource}.{nickname}")
        return await operation(**{name: value for name, value in params.items() if value is not None})

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise AriError(f"ARI answered {response.status_code} without JSON", status=response.status_code) from exc
        if not isinstance(body, dict):
            raise AriError(f"ARI answered {response.status_code} with a JSON {type(body).__name__}")
        return body

    async def info(self) -> dict[str, Any]:
        """``GET /asterisk/info``: a cheap proof that ARI answers (the health probe)."""
        return self._json(await self._call("asterisk", "getInfo"))

    async def originate(
        self,
        *,
        endpoint: str,
        channel_id: str,
        app_args: str = "",
        caller_id: str | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - seconds Asterisk lets it ring, sent to ARI
        originator: str | None = None,
        app: str | None = None,
    ) -> dict[str, Any]:
        """Call ``endpoint`` into the app (this client's unless ``app`` is given); the channel
        enters Stasis only once answered.

        ``channel_id`` makes it idempotent: a repeat raises :class:`AriConflict`.
        """
        response = await self._call(
            "channels",
            "originate",
            endpoint=endpoint,
            app=self._app(app),
            appArgs=app_args,
            channelId=channel_id,
            callerId=caller_id,
            timeout=timeout,
            originator=originator,
        )
        return self._json(response)

    async def create_channel(
        self,
        *,
        endpoint: str,
        channel_id: str,
        app_args: str = "",
        originator: str | None = None,
        app: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """``POST /channels/create``: a channel in the app that rings nobody until :meth:`dial`;
        ``variables`` set on it first (``{"CALLERID(num)": "+1…"}`` is the caller id shown)."""
        response = await self._call(
            "channels",
            "create",
            endpoint=endpoint,
            app=self._app(app),
            appArgs=app_args,
            channelId=channel_id,
            originator=originator,
            variables=variables or None,
        )
        return self._json(response)

    async def dial(self, channel_id: str, *, caller: str | None = None, timeout: int = 30) -> None:  # noqa: ASYNC109
        """Ring a channel from :meth:`create_channel`; ``caller`` is the calling *channel's id*
        (Asterisk answers 404 for anything else), ``timeout`` seconds of ringing (0: no limit)."""
        await self._call("channels", "dial", channelId=channel_id, caller=caller, timeout=timeout)

    async def answer(self, channel_id: str) -> None:
        await self._call("channels", "answer", channelId=channel_id)

    async def play(
        self, channel_id: str, *, media: list[str], playback_id: str, lang: str | None = None
    ) -> dict[str, Any]:
        """Queue ``media`` on the channel; PlaybackStarted/PlaybackFinished follow for ``playback_id``."""
        if not media:
            raise ValueError("play needs at least one media URI")
        response = await self._call(
            "channels", "playWithId", channelId=channel_id, playbackId=playback_id, media=list(media), lang=lang
        )
        return self._json(response)

    async def stop_playback(self, playback_id: str) -> None:
        await self._call("playbacks", "stop", playbackId=playback_id)

    async def hangup(self, channel_id: str, *, reason: str = "normal") -> None:
        await self._call("channels", "hangup", channelId=channel_id, reason=reason)

    async def get_channel(self, channel_id: str) -> dict[str, Any]:
        return self._json(await self._call("channels", "get", channelId=channel_id))

    async def create_bridge(self, bridge_id: str, *, type: str = "mixing") -> dict[str, Any]:
        return self._json(await self._call("bridges", "create", bridgeId=bridge_id, type=type))

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        if not channel_ids:
            raise ValueError("add_to_bridge needs at least one channel")
        await self._call("bridges", "addChannel", bridgeId=bridge_id, channel=list(channel_ids))

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self._call("bridges", "destroy", bridgeId=bridge_id)

    async def record_bridge(
        self, bridge_id: str, *, name: str, max_seconds: int, beep: bool, format: str = "wav", if_exists: str = "fail"
    ) -> dict[str, Any]:
        """Record the bridge's mixed audio (both sides) into the stored recording ``name``."""
        response = await self._call(
            "bridges",
            "record",
            bridgeId=bridge_id,
            name=name,
            format=format,
            maxDurationSeconds=max_seconds,
            beep=beep,
            ifExists=if_exists,
        )
        return self._json(response)

    async def record_channel(
        self,
        channel_id: str,
        *,
        name: str,
        max_seconds: int,
        beep: bool,
        format: str = "wav",
        terminate_on: str = "#",
        if_exists: str = "fail",
    ) -> dict[str, Any]:
        """Record what the caller says (not what is played to them) until ``terminate_on`` or the limit."""
        response = await self._call(
            "channels",
            "record",
            channelId=channel_id,
            name=name,
            format=format,
            maxDurationSeconds=max_seconds,
            beep=beep,
            terminateOn=terminate_on,
            ifExists=if_exists,
        )
        return self._json(response)

    async def stop_recording(self, name: str) -> None:
        await self._call("recordings", "stop", recordingName=name)

    async def stored_recording_file(self, name: str) -> bytes:
        return (await self._call("recordings", "getStoredFile", recordingName=name)).content

    async def delete_stored_recording(self, name: str) -> None:
        await self._call("recordings", "deleteStored", recordingName=name)


async def _describe(loading: Awaitable[Any]) -> None:
    """Await the loading of the API description, turning what can go wrong into :class:`AriError`."""
    try:
        await loading
    except AriError:
        raise
    except (httpx.HTTPError, OSError, SwaggerError, ValueError, KeyError, TypeError) as exc:
        # ValueError covers a JSON decode error: the server is no ARI (or not this version).
        raise AriUnavailable(f"cannot read the ARI description: {type(exc).__name__}") from exc


async def _enter(client: _EventsClient) -> None:
    """Enter asyncari's client (description, then websocket), turning failures into :class:`AriError`."""
    await _describe(client.__aenter__())
    if client.connect_error is not None:
        error = client.connect_error
        if isinstance(error, AriError):
            raise error
        raise AriUnavailable(f"cannot open the ARI events websocket: {type(error).__name__}") from error
    if not client.connected:
        raise AriUnavailable("the ARI events websocket closed at once")


__all__ = [
    "AriClient",
    "AriConflict",
    "AriError",
    "AriNotFound",
    "AriUnauthorized",
    "AriUnavailable",
]
