from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from asgiref.sync import async_to_sync
from django.test import Client

from fastsock.core.logging import REDACTED, redact_text, redact_value
from fastsock.core.testing import TEST_PASSWORD, ws_connect

SECRET_PASSWORD = "Sup3r-Secret-Passw0rd!"


@pytest.fixture
def log_output():
    """Everything logged while the test runs, rendered exactly as production renders it."""
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(root.handlers[0].formatter)
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def log_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoxfQ.c2lnbmF0dXJl", "eyJhbGci"),
        ("GET /ws/?since=4&token=abc.def.ghi", "abc.def.ghi"),
        ("password=hunter2&username=alice", "hunter2"),
        ('{"username": "alice", "password": "hunter2"}', "hunter2"),
        ("Authorization: ApiKey fs_live_0123456789", "fs_live_0123456789"),
        ("sessionid=abcdef0123456789; csrftoken=zzz", "abcdef0123456789"),
        ("refresh=eyJxxxxxxx.eyJyyyyyyy.sig", "eyJxxxxxxx"),
        ("client_secret%3Dshh", "shh"),
        ("POST /webhooks/sms/gw1/inbound?sig=9f8e7d6c5b4a", "9f8e7d6c5b4a"),
        ("POST /webhooks/sms/gw1/dlr?sid=SM00&exp=1&sig=abc123def456", "abc123def456"),
    ],
)
def test_secrets_in_text_are_redacted(text, secret):
    redacted = redact_text(text)
    assert secret not in redacted
    assert REDACTED in redacted


def test_ordinary_text_is_left_alone():
    text = "user alice joined room 4 at 12:00 (keyboard shortcut)"
    assert redact_text(text) == text


def test_secret_fields_are_redacted_at_any_depth():
    value = {
        "headers": {"Authorization": "anything", "Cookie": "x", "X-Api-Key": "k"},
        "body": {"password": "p", "nested": [{"token": "t", "name": "ok"}]},
    }
    redacted = redact_value(value)
    assert redacted["headers"] == {"Authorization": REDACTED, "Cookie": REDACTED, "X-Api-Key": REDACTED}
    assert redacted["body"]["password"] == REDACTED
    assert redacted["body"]["nested"] == [{"token": REDACTED, "name": "ok"}]


def test_log_lines_are_json_with_request_ids(db, log_output):
    response = Client().get("/healthz")
    lines = log_lines(log_output)
    access = [line for line in lines if line.get("logger") == "fastsock.access"]
    assert access, lines
    assert access[-1]["request_id"] == response["X-Request-ID"]
    assert access[-1]["path"] == "/healthz"
    assert access[-1]["status"] == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("fastsock.core.tests.urls")
def test_logs_never_contain_a_password_or_token(log_output, make_user):
    make_user("alice", password=SECRET_PASSWORD)
    client = Client(raise_request_exception=False)
    secrets: list[str] = [SECRET_PASSWORD, "hunter2-in-exception"]

    client.post(
        "/api/v1/auth/register",
        {"username": "bob", "password": SECRET_PASSWORD + "b"},
        content_type="application/json",
    )
    secrets.append(SECRET_PASSWORD + "b")
    tokens = client.post(
        "/api/v1/auth/token", {"username": "alice", "password": SECRET_PASSWORD}, content_type="application/json"
    ).json()
    secrets += [tokens["access"], tokens["refresh"]]
    client.post(
        "/api/v1/auth/token",
        {"username": "alice", "password": "wrong" + SECRET_PASSWORD},
        content_type="application/json",
    )
    refreshed = client.post(
        "/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, content_type="application/json"
    ).json()
    secrets.append(refreshed["access"])
    client.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    client.get("/api/v1/users/me", HTTP_AUTHORIZATION="Bearer forged.token.value-abc")
    secrets.append("forged.token.value-abc")
    client.get(f"/api/v1/users?token={tokens['access']}&api_key=fs_key_abc123&password=qs-pass-1")
    secrets += ["fs_key_abc123", "qs-pass-1"]
    client.get("/api/v1/test/boom", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    client.post("/login/", {"username": "alice", "password": SECRET_PASSWORD})
    client.post("/login/", {"username": "alice", "password": "nope-" + SECRET_PASSWORD})

    async def sockets() -> None:
        accepted, connected, _ = await ws_connect(token=tokens["access"])
        assert connected
        await accepted.disconnect()
        _, refused, _ = await ws_connect(token="forged-ws-token-xyz")
        assert not refused

    async_to_sync(sockets)()
    secrets.append("forged-ws-token-xyz")
    structlog.get_logger("test").info(
        "explicit", headers={"Authorization": f"Bearer {tokens['access']}"}, body={"password": SECRET_PASSWORD}
    )

    output = log_output.getvalue()
    assert "boom" in output or "RuntimeError" in output, "the 500 must be logged"
    assert "websocket.connected" in output
    for secret in secrets:
        assert secret not in output, f"a secret leaked into the logs: {secret[:12]}…"
    assert TEST_PASSWORD not in output
