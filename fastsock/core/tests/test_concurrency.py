"""The per-process bound on concurrent HTTP requests (fastsock.core.concurrency)."""

from __future__ import annotations

import asyncio

import pytest

from fastsock.core.concurrency import ConcurrentRequestLimit


class GatedApp:
    """An ASGI app whose requests stay inside until the test opens the gate; counts them."""

    def __init__(self) -> None:
        self.inside = 0
        self.most_inside = 0
        self.started: list[str] = []
        self.gate = asyncio.Event()

    async def __call__(self, scope, receive, send) -> None:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        self.started.append(scope["path"])
        try:
            await self.gate.wait()
        finally:
            self.inside -= 1


async def noop_receive() -> dict:
    return {"type": "http.request", "body": b""}


async def noop_send(message) -> None:
    return None


def request(app, path: str, kind: str = "http"):
    return app({"type": kind, "path": path}, noop_receive, noop_send)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_requests_beyond_the_limit_wait_their_turn_and_all_run():
    app = GatedApp()
    limited = ConcurrentRequestLimit(app, limit=3)
    tasks = [asyncio.create_task(request(limited, f"/r{n}")) for n in range(10)]
    await settle()
    assert app.inside == 3
    app.gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
    assert app.most_inside == 3
    assert app.started == [f"/r{n}" for n in range(10)]  # first come, first served


@pytest.mark.asyncio
async def test_websockets_are_not_counted_against_the_limit():
    app = GatedApp()
    limited = ConcurrentRequestLimit(app, limit=1)
    held = asyncio.create_task(request(limited, "/slow"))
    socket = asyncio.create_task(request(limited, "/ws/", kind="websocket"))
    await settle()
    assert app.started == ["/slow", "/ws/"]
    app.gate.set()
    await asyncio.wait_for(asyncio.gather(held, socket), timeout=5)


@pytest.mark.asyncio
async def test_health_probes_are_not_held_behind_a_burst():
    app = GatedApp()
    limited = ConcurrentRequestLimit(app, limit=1, exempt=("/healthz",))
    held = asyncio.create_task(request(limited, "/slow"))
    probe = asyncio.create_task(request(limited, "/healthz"))
    await settle()
    assert app.started == ["/slow", "/healthz"]
    app.gate.set()
    await asyncio.wait_for(asyncio.gather(held, probe), timeout=5)


@pytest.mark.asyncio
async def test_a_limit_of_zero_lets_every_request_in():
    app = GatedApp()
    limited = ConcurrentRequestLimit(app, limit=0)
    tasks = [asyncio.create_task(request(limited, f"/r{n}")) for n in range(20)]
    await settle()
    assert app.inside == 20
    app.gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)


@pytest.mark.asyncio
async def test_a_request_that_fails_gives_its_place_back():
    async def failing(scope, receive, send) -> None:
        raise RuntimeError("boom")

    limited = ConcurrentRequestLimit(failing, limit=1)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(request(limited, "/boom"), timeout=5)


def test_the_served_application_bounds_http_by_the_setting(settings):
    from fastsock.asgi import application

    http = application.application_mapping["http"]
    assert isinstance(http, ConcurrentRequestLimit)
    assert http.limit == settings.HTTP_MAX_CONCURRENT_REQUESTS
    assert {"/healthz", "/readyz", "/metrics"} <= http.exempt
