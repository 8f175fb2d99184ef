"""Real servers for end-to-end tests: Daphne serving FastSock on a free port, with its own database."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from fastsock.core.testing import free_port, stop_process

BASE_DIR = Path(__file__).resolve().parent.parent
# A developer's own TURN, Janus or call settings must not leak into the servers tests start.
CALL_CONFIG_PREFIXES = ("STUN_", "TURN_", "JANUS_", "CALL_")
CONFIG_VARIABLES = {
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "SQLITE_PATH",
    "SECRET_KEY",
    "DEBUG",
    "MEDIA_ROOT",
    "STATIC_ROOT",
    "ALLOWED_HOSTS",
    "PUBLIC_BASE_URL",
    "LOG_LEVEL",
    "LOG_FORMAT",
}


@dataclass
class RunningServer:
    base_url: str
    ws_url: str
    log_file: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    def manage(self, *arguments: str) -> str:
        """Run a management command against this server's database and settings."""
        result = subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=BASE_DIR,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return result.stdout

    def logs(self) -> str:
        return self.log_file.read_text(errors="replace")


def wait_until(condition, *, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextlib.contextmanager
def _scratch_postgres_database(database_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database beside the configured one, dropped afterwards."""
    import psycopg

    name = f"fastsock_e2e_{os.getpid()}_{secrets.token_hex(4)}"
    parts = urlsplit(database_url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def daphne_server(tmp_path: Path, *, extra_env: dict[str, str] | None = None) -> Iterator[RunningServer]:
    """Run FastSock as production does (DEBUG off, collected static files) under a real Daphne."""
    with daphne_servers(tmp_path, count=1, extra_env=extra_env) as servers:
        yield servers[0]


@contextlib.contextmanager
def daphne_servers(
    tmp_path: Path, *, count: int, extra_env: dict[str, str] | None = None
) -> Iterator[list[RunningServer]]:
    """Several Daphne processes sharing one database (and Redis, when ``REDIS_URL`` is set)."""
    ports = [free_port() for _ in range(count)]
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in CONFIG_VARIABLES and not key.startswith(CALL_CONFIG_PREFIXES)
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "fastsock.settings.base",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports[0]}",
            # Plain HTTP on loopback: a TLS proxy sits in front in production.
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "STATIC_ROOT": str(tmp_path / "static"),
            "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            # Its own cache keys, so that rate-limit counters never carry over between runs.
            "CACHE_KEY_PREFIX": f"fastsock-e2e-{secrets.token_hex(4)}",
        }
    )
    env.update(extra_env or {})
    with contextlib.ExitStack() as stack:
        if os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = stack.enter_context(_scratch_postgres_database(os.environ["DATABASE_URL"]))
        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=BASE_DIR,
                env=env,
                check=True,
                capture_output=True,
                timeout=180,
            )
        servers = [stack.enter_context(_serve(tmp_path / f"daphne-{port}.log", port, env)) for port in ports]
        yield servers


@contextlib.contextmanager
def serve_again(server: RunningServer, *, same_port: bool = False) -> Iterator[RunningServer]:
    """A new Daphne process on the same database, Redis and settings: a server restart.

    With ``same_port`` the new process takes the old one's address (stop the old one first),
    as a browser page reconnecting to the address it was loaded from needs.
    """
    port = int(server.base_url.rsplit(":", 1)[1]) if same_port else free_port()
    with _serve(server.log_file.with_name(f"daphne-{port}-again.log"), port, server.env) as restarted:
        yield restarted


@contextlib.contextmanager
def _serve(log_file: Path, port: int, env: dict[str, str]) -> Iterator[RunningServer]:
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = RunningServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", log_file, process, env)
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"Daphne exited with {process.returncode}:\n{server.logs()[-3000:]}")
            return _answers(f"{server.base_url}/healthz")

        wait_until(ready, timeout=60, what="Daphne to answer /healthz")
        yield server
    finally:
        stop_process(process)
