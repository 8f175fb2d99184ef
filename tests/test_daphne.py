"""FastSock under a real Daphne, as production runs it: pages, API, WebSocket and clean logs."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.servers import daphne_server

PASSWORD = "E2e-Very-Secret-Passw0rd"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with daphne_server(tmp_path_factory.mktemp("daphne")) as running:
        yield running


class Browserish:
    """A cookie-keeping HTTP client, enough to log in through the HTML form like a browser."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers or {})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, method: str, path: str, payload: dict | None = None, token: str | None = None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps(payload).encode() if payload is not None else None
        status, _, content = self.request(method, path, body, headers)
        return status, json.loads(content)

    def cookie(self, name: str) -> str:
        return next(cookie.value for cookie in self.cookies if cookie.name == name)


def test_login_page_and_its_static_files_are_served(server):
    client = Browserish(server.base_url)
    status, headers, page = client.request("GET", "/login/")
    assert status == 200
    assert b"Welcome back" in page
    stylesheet = re.search(rb'href="(/static/css/app\.[0-9a-f]+\.css)"', page).group(1).decode()
    status, headers, css = client.request("GET", stylesheet)
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert b".auth-card" in css


def test_a_new_user_registers_gets_tokens_and_talks_over_the_websocket(server):
    client = Browserish(server.base_url)
    status, user = client.json("POST", "/api/v1/auth/register", {"username": "erin", "password": PASSWORD})
    assert status == 201, user
    status, tokens = client.json("POST", "/api/v1/auth/token", {"username": "erin", "password": PASSWORD})
    assert status == 200
    status, me = client.json("GET", "/api/v1/users/me", token=tokens["access"])
    assert (status, me["id"]) == (200, user["id"])

    with connect(f"{server.ws_url}/ws/?token={tokens['access']}", open_timeout=10) as socket:
        socket.send(json.dumps({"event": "ping", "ref": "1"}))
        assert json.loads(socket.recv(timeout=10)) == {"event": "pong", "data": {}, "ref": "1"}
        socket.send("{broken")
        assert json.loads(socket.recv(timeout=10))["data"]["code"] == "malformed_request"
        socket.send(json.dumps({"event": "ping", "data": {"pad": "x" * 70_000}}))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
        assert closed.value.rcvd.code == 1009


def test_bad_input_gets_the_uniform_error_shape(server):
    client = Browserish(server.base_url)
    status, body = client.json("POST", "/api/v1/auth/register", {"username": "x"})
    assert status == 400
    assert body["error"]["code"] == "invalid"
    assert {"username", "password"} <= set(body["error"]["details"])
    status, _, content = client.request("POST", "/api/v1/auth/token", b"{oops", {"Content-Type": "application/json"})
    assert status == 400
    assert json.loads(content)["error"]["code"] == "malformed_request"
    status, body = client.json("GET", "/api/v1/nothing")
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_the_websocket_refuses_a_missing_or_forged_credential(server):
    for url in (f"{server.ws_url}/ws/", f"{server.ws_url}/ws/?token=forged-token-123"):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=10)
        assert refused.value.response.status_code == 403


def test_a_browser_session_logs_in_through_the_form_and_opens_a_socket(server):
    client = Browserish(server.base_url)
    assert client.json("POST", "/api/v1/auth/register", {"username": "fay", "password": PASSWORD})[0] == 201
    client.request("GET", "/login/")
    form = urllib.parse.urlencode(
        {"username": "fay", "password": PASSWORD, "csrfmiddlewaretoken": client.cookie("csrftoken")}
    ).encode()
    status, _, page = client.request(
        "POST",
        "/login/",
        form,
        {"Content-Type": "application/x-www-form-urlencoded", "Referer": server.base_url + "/login/"},
    )
    assert status == 200
    assert b"Hi Fay" in page or b"Hi fay" in page
    cookie = f"sessionid={client.cookie('sessionid')}"
    with connect(f"{server.ws_url}/ws/", additional_headers={"Cookie": cookie}, origin=server.base_url) as socket:
        socket.send(json.dumps({"event": "ping"}))
        assert json.loads(socket.recv(timeout=10))["event"] == "pong"
    with pytest.raises(InvalidStatus):
        connect(f"{server.ws_url}/ws/", additional_headers={"Cookie": cookie}, origin="https://evil.example")


def test_readyz_reports_the_configured_parts(server):
    status, body = Browserish(server.base_url).json("GET", "/readyz")
    assert status == 200, body
    assert body["checks"]["database"] == "ok"


def test_daphne_logs_are_json_and_hold_no_password_or_token(server):
    # Runs last in this module: everything above has been logged by now.
    client = Browserish(server.base_url)
    client.json("POST", "/api/v1/auth/token", {"username": "erin", "password": "wrong-" + PASSWORD})
    status, tokens = client.json("POST", "/api/v1/auth/token", {"username": "erin", "password": PASSWORD})
    assert status == 200
    client.request("GET", f"/api/v1/users?token={tokens['access']}")
    logs = server.logs()
    access_lines = [json.loads(line) for line in logs.splitlines() if '"fastsock.access"' in line]
    assert access_lines, logs[-2000:]
    assert all(line.get("request_id") for line in access_lines)
    for secret in (PASSWORD, tokens["access"], tokens["refresh"], "forged-token-123"):
        assert secret not in logs


def test_a_body_announced_over_the_limit_is_refused_before_it_is_read(server):
    client = Browserish(server.base_url)
    status, _, content = client.request(
        "POST",
        "/api/v1/uploads",
        b"x" * 16,
        {"Content-Type": "application/octet-stream", "Content-Length": str(200 * 1024 * 1024)},
    )
    assert status == 413
    assert json.loads(content)["error"]["code"] == "too_large"


def test_a_body_streamed_past_the_limit_is_cut_off(server):
    import socket

    with socket.create_connection(("127.0.0.1", int(server.base_url.rsplit(":", 1)[1])), timeout=10) as raw:
        raw.sendall(
            b"POST /api/v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n"
        )
        chunk = b"x" * 65536
        answer = b""
        sent = 0
        for _ in range(2000):  # bounded: at most ~128 MiB, far past the 26 MiB limit
            try:
                raw.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        raw.settimeout(10)
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            answer = raw.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 64 * 1024 * 1024, "the server kept reading long after the limit"
