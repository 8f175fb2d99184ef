"""The ARI simulator's transport: HTTP/1.1 (h11) and the events websocket (wsproto) on asyncio.

It knows ARI's description (:mod:`tests.ari_description`): it routes requests to operations
(literal paths first, as Asterisk does), checks their parameters strictly, authenticates (HTTP
Basic, else ``api_key``), keeps a request log and answers errors the way Asterisk does
(``{"message": …}``). It knows nothing about calls: :class:`tests.ari_simulator.AriSimulator`
answers each operation with a ``_rest_<resource>_<nickname>`` method and emits the events.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import h11
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, Request, TextMessage
from wsproto.utilities import LocalProtocolError

from tests import ari_description
from tests.ari_description import OPERATIONS, Operation, Param


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the simulator understood it (credentials never kept)."""

    method: str
    path: str  # as sent, without the query
    query: dict[str, list[str]]  # without api_key
    status: int
    operation: Operation | None  # None for api-docs and unknown paths
    auth: str | None  # "basic", "api_key" or None
    body: bytes = b""

    @property
    def nickname(self) -> str | None:
        return self.operation.nickname if self.operation else None


class AriReply(Exception):  # noqa: N818 - an answer, not a failure of the simulator
    """Answer the request with ``status`` and Asterisk's ``{"message": …}`` body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class EventSocket:
    apps: list[str]
    ws: WSConnection
    writer: asyncio.StreamWriter
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)

    def send(self, text: str) -> None:
        self.queue.put_nowait(text)

    def drop(self) -> None:
        """Cut the TCP connection without a close frame, as a crashed or unplugged Asterisk would."""
        self.writer.transport.abort()


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the simulator runs without Django, e.g. by hand)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}$")


# Literal paths before templated ones, as Asterisk routes them (/channels/create is not a channel id).
ROUTES: list[tuple[re.Pattern[str], Operation]] = sorted(
    ((_compile(op.path), op) for op in OPERATIONS), key=lambda route: route[1].path.count("{")
)


class AriHttpServer:
    """Serves the description, the operations and the events websocket; keeps the request log."""

    def __init__(self, *, username: str, password: str, port: int | None) -> None:
        self.username = username
        self.password = password
        self.port = port or free_port()
        self.refuse_websockets = False
        self.errors: list[BaseException] = []
        self._faults: dict[str, list[tuple[int, str]]] = {}
        self._sockets: list[EventSocket] = []
        self._app_socket: dict[str, EventSocket] = {}
        self._connections: set[asyncio.StreamWriter] = set()
        self._requests: list[LoggedRequest] = []
        self._changed = threading.Condition()
        self._version = 0

    def _changed_now(self) -> None:
        with self._changed:
            self._version += 1
            self._changed.notify_all()

    def _record_error(self, error: BaseException | None) -> None:
        if error is not None:
            self.errors.append(error)
            self._changed_now()

    def _send(self, listener: EventSocket | None, app: str, event_type: str, **fields: Any) -> None:
        raise NotImplementedError

    # HTTP ------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        connection = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await self._next_request(connection, reader)
                if request is None:
                    return
                head, body = request
                headers = {name.decode().lower(): value.decode("latin-1") for name, value in head.headers}
                if headers.get("upgrade", "").lower() == "websocket":
                    await self._websocket(head, headers, connection, reader, writer)
                    return
                status, content_type, payload = self._answer(head, headers, body)
                self._write(connection, writer, status, content_type, payload)
                await writer.drain()
                if connection.our_state is h11.MUST_CLOSE:
                    return
                connection.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            return
        finally:
            self._connections.discard(writer)
            writer.close()

    @staticmethod
    async def _next_request(
        connection: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request, bytes] | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return head, bytes(body)
            elif event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                return None

    @staticmethod
    def _write(
        connection: h11.Connection, writer: asyncio.StreamWriter, status: int, content_type: str, payload: bytes
    ) -> None:
        headers = [("Server", "Asterisk/22.5.0-fastsock-simulator"), ("Content-Length", str(len(payload)))]
        if payload:
            headers.append(("Content-Type", content_type))
        if status == 401:
            headers.append(("WWW-Authenticate", 'Basic realm="Asterisk REST Interface"'))
        writer.write(connection.send(h11.Response(status_code=status, headers=headers)))
        if payload:
            writer.write(connection.send(h11.Data(data=payload)))
        writer.write(connection.send(h11.EndOfMessage()))

    def _authenticate(self, headers: dict[str, str], query: dict[str, list[str]]) -> str | None:
        """Asterisk's order: HTTP Basic first, else ``?api_key=user:password``; the method, or None."""
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                given = base64.b64decode(authorization[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            return "basic" if given == f"{self.username}:{self.password}" else None
        keys = query.get("api_key")
        if keys:
            return "api_key" if keys[-1] == f"{self.username}:{self.password}" else None
        return None

    def _answer(self, head: h11.Request, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        """The status, content type and body for one REST request; logs it."""
        target = urllib.parse.urlsplit(head.target.decode("latin-1"))
        query = urllib.parse.parse_qs(target.query, keep_blank_values=True)
        method = head.method.decode()
        auth = self._authenticate(headers, query)
        query.pop("api_key", None)
        operation: Operation | None = None
        try:
            if auth is None:
                raise AriReply(401, "Authentication required")
            if target.path.startswith("/ari/api-docs/"):
                status, payload = 200, self._docs(target.path.removeprefix("/ari/api-docs/"), headers)
            else:
                operation, path_params = self._route(method, target.path)
                params = {**parse_params(operation, query, path_params), **parse_body(operation, body)}
                fault = self._faults.get(operation.nickname)
                if fault:
                    raise AriReply(*fault.pop(0))
                handler = getattr(self, f"_rest_{operation.resource}_{operation.nickname}")
                status, payload = handler(params)
        except AriReply as reply:
            status, payload = reply.status, {"message": reply.message}
        except Exception as exc:  # noqa: BLE001 - a simulator bug: answered 500 and kept for the test
            self._record_error(exc)
            status, payload = 500, {"message": f"simulator error: {type(exc).__name__}"}
        with self._changed:
            self._requests.append(LoggedRequest(method, target.path, query, status, operation, auth, body))
        self._changed_now()
        if isinstance(payload, bytes):
            return status, "audio/wav", payload
        return status, "application/json", b"" if payload is None else json.dumps(payload).encode()

    def _docs(self, name: str, headers: dict[str, str]) -> dict[str, Any]:
        # Like Asterisk, the basePath is the address the client used.
        base_path = f"http://{headers.get('host', f'127.0.0.1:{self.port}')}/ari"
        if name == "resources.json":
            return ari_description.resource_listing(base_path)
        resource = name.removesuffix(".json")
        if resource not in ari_description.RESOURCES:
            raise AriReply(404, "Resource not found")
        return ari_description.api_declaration(resource, base_path)

    @staticmethod
    def _route(method: str, path: str) -> tuple[Operation, dict[str, str]]:
        relative = path.removeprefix("/ari")
        if relative == path:
            raise AriReply(404, "Not found")
        path_matched = False
        for pattern, operation in ROUTES:
            match = pattern.match(relative)
            if match is None:
                continue
            path_matched = True
            if operation.method == method:
                return operation, {k: urllib.parse.unquote_plus(v) for k, v in match.groupdict().items()}
        raise AriReply(405 if path_matched else 404, "Method Not Allowed" if path_matched else "Resource not found")

    # Events websocket ------------------------------------------------------------------------

    async def _websocket(
        self,
        head: h11.Request,
        headers: dict[str, str],
        connection: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        target = urllib.parse.urlsplit(head.target.decode("latin-1"))
        query = urllib.parse.parse_qs(target.query, keep_blank_values=True)
        auth = self._authenticate(headers, query)
        query.pop("api_key", None)
        operation = next(op for op in OPERATIONS if op.nickname == "eventWebsocket")
        status = 101
        try:
            if auth is None:
                raise AriReply(401, "Authentication required")
            if target.path != "/ari/events":
                raise AriReply(404, "Resource not found")
            params = parse_params(operation, query, {})
            if self.refuse_websockets:
                raise AriReply(503, "Service Unavailable")
        except AriReply as reply:
            status = reply.status
            self._write(connection, writer, status, "application/json", json.dumps({"message": reply.message}).encode())
            await writer.drain()
            return
        finally:
            with self._changed:
                self._requests.append(LoggedRequest("GET", target.path, query, status, operation, auth))
            self._changed_now()
        ws = WSConnection(ConnectionType.SERVER)
        ws.initiate_upgrade_connection(head.headers, head.target)
        next(event for event in ws.events() if isinstance(event, Request))
        writer.write(ws.send(AcceptConnection()))
        trailing, _closed = connection.trailing_data
        if trailing:
            ws.receive_data(trailing)
        listener = EventSocket(apps=list(params["app"]), ws=ws, writer=writer)
        self._register(listener)
        sender = asyncio.ensure_future(self._send_events(listener))
        try:
            await self._read_frames(listener, reader)
        finally:
            sender.cancel()
            self._unregister(listener)

    def _register(self, listener: EventSocket) -> None:
        self._sockets.append(listener)
        for app in listener.apps:
            older = self._app_socket.get(app)
            if older is not None:
                self._send(older, app, "ApplicationReplaced")
            self._app_socket[app] = listener
        self._changed_now()

    def _unregister(self, listener: EventSocket) -> None:
        if listener in self._sockets:
            self._sockets.remove(listener)
        for app in listener.apps:
            if self._app_socket.get(app) is listener:
                del self._app_socket[app]
        self._changed_now()

    @staticmethod
    async def _send_events(listener: EventSocket) -> None:
        with contextlib.suppress(ConnectionError, LocalProtocolError):
            while (text := await listener.queue.get()) is not None:
                listener.writer.write(listener.ws.send(TextMessage(data=text)))
                await listener.writer.drain()

    @staticmethod
    async def _read_frames(listener: EventSocket, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError, LocalProtocolError):
            while True:
                data = await reader.read(65536)
                listener.ws.receive_data(data or None)
                for event in listener.ws.events():
                    if isinstance(event, Ping):
                        listener.writer.write(listener.ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        with contextlib.suppress(LocalProtocolError):
                            listener.writer.write(listener.ws.send(event.response()))
                        return
                if not data:
                    return


def parse_params(operation: Operation, query: dict[str, list[str]], path_params: dict[str, str]) -> dict[str, Any]:
    """Query and path parameters checked against the description; a 400 names the first bad one."""
    known = {param.name: param for param in operation.params}
    for name in query:
        param = known.get(name)
        if param is None or param.kind != "query":
            raise AriReply(400, f"Unknown parameter {name} (this simulator checks ARI's description strictly)")
    parsed: dict[str, Any] = dict(path_params)
    for param in operation.params:
        if param.kind != "query":
            continue
        raw = query.get(param.name)
        if raw is None:
            if param.required:
                raise AriReply(400, f"Missing required param: {param.name}")
            continue
        items = [item for value in raw for item in value.split(",")] if param.multiple else [raw[-1]]
        values = [_convert(param, item) for item in items]
        parsed[param.name] = values if param.multiple else values[0]
    return parsed


def parse_body(operation: Operation, body: bytes) -> dict[str, Any]:
    """Body parameters (a JSON object of them, as ``{"variables": {…}}``), checked like the query."""
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except ValueError:
        raise AriReply(400, "Malformed JSON body") from None
    if not isinstance(document, dict):
        raise AriReply(400, "The body must be a JSON object")
    for name in document:
        param = operation.param(name)
        if param is None or param.kind != "body":
            raise AriReply(400, f"Unknown body parameter {name}")
    return document


def _convert(param: Param, text: str) -> Any:
    if param.type in ("int", "long"):
        try:
            value: Any = int(text)
        except ValueError:
            raise AriReply(400, f"{param.name} must be an integer") from None
        if param.minimum is not None and value < param.minimum:
            raise AriReply(400, f"{param.name} must be at least {param.minimum}")
        return value
    if param.type == "boolean":
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise AriReply(400, f"{param.name} must be true or false")
    if param.values is not None and text not in param.values:
        raise AriReply(400, f"Invalid value for {param.name}: {text}")
    return text
