"""Foundation benchmarks against a real Daphne on loopback: HTTP, log-in and WebSocket round trips.

Every loop is bounded in count and in time. Prints one JSON object with the numbers.
Run with `make bench` (embedded) or with DATABASE_URL/REDIS_URL set for the real services.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.stats import summary

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastsock.settings.test")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django

django.setup()

from websockets.sync.client import connect  # noqa: E402

from tests.servers import daphne_server  # noqa: E402

MAX_SECONDS_PER_PART = 20
PASSWORD = "bench-password-not-secret"


def timed_get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        response.read()
    return (time.perf_counter() - started) * 1000


def http_part(base_url: str, path: str, *, total: int, concurrency: int) -> dict[str, float]:
    deadline = time.monotonic() + MAX_SECONDS_PER_PART
    samples: list[float] = []
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        while len(samples) < total and time.monotonic() < deadline:
            batch = min(concurrency * 10, total - len(samples))
            samples += pool.map(lambda _n: timed_get(base_url + path), range(batch))
    return summary(samples, time.perf_counter() - started)


def post_json(url: str, payload: dict) -> dict:
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def login_part(base_url: str, *, total: int) -> dict[str, float]:
    samples: list[float] = []
    deadline = time.monotonic() + MAX_SECONDS_PER_PART
    started = time.perf_counter()
    while len(samples) < total and time.monotonic() < deadline:
        begin = time.perf_counter()
        post_json(f"{base_url}/api/v1/auth/token", {"username": "benchuser", "password": PASSWORD})
        samples.append((time.perf_counter() - begin) * 1000)
    return summary(samples, time.perf_counter() - started)


def websocket_part(ws_url: str, token: str, *, connects: int, pings: int) -> dict[str, dict[str, float]]:
    connect_samples: list[float] = []
    deadline = time.monotonic() + MAX_SECONDS_PER_PART
    started = time.perf_counter()
    while len(connect_samples) < connects and time.monotonic() < deadline:
        begin = time.perf_counter()
        with connect(f"{ws_url}/ws/?token={token}", open_timeout=10):
            connect_samples.append((time.perf_counter() - begin) * 1000)
    connect_elapsed = time.perf_counter() - started

    ping_samples: list[float] = []
    with connect(f"{ws_url}/ws/?token={token}", open_timeout=10) as socket:
        started = time.perf_counter()
        while len(ping_samples) < pings and time.monotonic() < deadline + MAX_SECONDS_PER_PART:
            begin = time.perf_counter()
            socket.send('{"event": "ping"}')
            socket.recv(timeout=10)
            ping_samples.append((time.perf_counter() - begin) * 1000)
            if len(ping_samples) % 50 == 0:
                time.sleep(2.5)  # stay inside the per-socket frame budget (20/s, bursts of 60)
        ping_elapsed = time.perf_counter() - started
    return {"connect": summary(connect_samples, connect_elapsed), "ping": summary(ping_samples, ping_elapsed)}


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        extra = {
            "RATE_LIMIT_LOGIN_IP": "100000/m",
            "RATE_LIMIT_LOGIN_USERNAME": "100000/m",
            "RATE_LIMIT_REGISTER_IP": "1000/m",
            "LOG_LEVEL": "WARNING",
        }
        with daphne_server(Path(scratch), extra_env=extra) as server:
            post_json(f"{server.base_url}/api/v1/auth/register", {"username": "benchuser", "password": PASSWORD})
            token = post_json(f"{server.base_url}/api/v1/auth/token", {"username": "benchuser", "password": PASSWORD})[
                "access"
            ]
            results = {
                "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
                "redis": bool(os.environ.get("REDIS_URL")),
                "healthz_1_client": http_part(server.base_url, "/healthz", total=500, concurrency=1),
                "healthz_8_clients": http_part(server.base_url, "/healthz", total=2000, concurrency=8),
                "readyz_1_client": http_part(server.base_url, "/readyz", total=300, concurrency=1),
                "token_obtain": login_part(server.base_url, total=100),
                "websocket": websocket_part(server.ws_url, token, connects=200, pings=200),
            }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
