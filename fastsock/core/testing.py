"""Helpers shared by every app's tests: users, API clients with JWT, WebSocket communicators."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

TEST_PASSWORD = "correct-horse-battery-staple"  # noqa: S105 - test users only


def api_client_for(user: Any | None = None) -> APIClient:
    """An API client; with a user, it sends that user's JWT access token."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    return client


def access_token_for(user: Any) -> str:
    return str(RefreshToken.for_user(user).access_token)


def session_cookie_for(user: Any) -> str:
    """Log ``user`` in through Django's test client and return the session cookie value."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def ws_connect(
    *,
    token: str | None = None,
    session: str | None = None,
    origin: str | None = None,
    path: str = "/ws/",
) -> tuple[WebsocketCommunicator, bool, Any]:
    """Open a communicator against the real ASGI application; return it with the connect result."""
    from fastsock.asgi import application

    headers: list[tuple[bytes, bytes]] = [(b"host", b"127.0.0.1")]
    if session is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if token is not None:
        separator = "&" if "?" in path else "?"
        path = f"{path}{separator}token={token}"
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, detail = await communicator.connect(timeout=5)
    return communicator, connected, detail


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def services_required() -> bool:
    """In CI's second pass PostgreSQL and Redis must be there: a skip for them is a failure."""
    return os.environ.get("FASTSOCK_REQUIRE_SERVICES") == "1"


def system_parts_required() -> bool:
    """In CI every system part is installed: a skip for a missing one is a failure."""
    return os.environ.get("FASTSOCK_REQUIRE_SYSTEM") == "1"


def skip_or_fail(reason: str, *, required: bool) -> None:
    if required:
        pytest.fail(f"{reason} (required here, so this is a failure, not a skip)")
    # Report the skip at the test, not at this helper.
    raise pytest.skip.Exception(reason, _use_item_location=True)


PROJECT_DIR = Path(__file__).resolve().parents[2]
# Every variable that configures FastSock: a fresh process sees only those a test gives it.
CONFIG_PREFIXES = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_",
    "SQLITE_PATH",
    "REDIS_URL",
    "CELERY_",
    "S3_",
    "AWS_",
    "SECRET_KEY",
    "DEBUG",
    "MEDIA_ROOT",
    "STATIC_ROOT",
    "ALLOWED_HOSTS",
    "PUBLIC_BASE_URL",
    "CSRF_TRUSTED_ORIGINS",
    "LOG_",
    "STUN_",
    "TURN_",
    "JANUS_",
    "CALL_",
)


def run_fresh_python(
    arguments: list[str], env: dict[str, str], *, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run Python in a new process configured only by ``env``, as a deployment would start it."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith(CONFIG_PREFIXES)}
    clean["DJANGO_SETTINGS_MODULE"] = "fastsock.settings.base"
    clean.update(env)
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, *arguments],
        cwd=PROJECT_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stop_process(process: subprocess.Popen[Any], *, grace_seconds: float = 15) -> None:
    """Ask a server process to stop; kill it if it does not within the grace period."""
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
