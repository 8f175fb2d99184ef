"""A bound on the HTTP requests one server process runs at once; the others wait their turn.

Django runs every request of a sync view or middleware on a thread of its own (asgiref gives
each request a single-thread executor of its own), with no bound. A burst of callbacks (Kannel
has up to 512 delivery reports in flight) became hundreds of threads in one process queueing for
a handful of pooled database connections; whatever waited longer than the pool's timeout answered
500, and Kannel does not send a report again by default, so the message stayed ``sent`` for good.

Here a request beyond the limit waits as a coroutine, holding neither a thread nor a connection,
and runs as soon as one ends. Waiting is first come, first served, and bounded only by the
client's patience: a gateway's report waits a moment longer rather than failing.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ConcurrentRequestLimit:
    """ASGI middleware: at most ``limit`` HTTP requests inside ``app`` at once (``0``: no limit).

    WebSocket and lifespan connections pass straight through: a socket lives for hours. So do
    requests for the ``exempt`` paths: a health probe stuck behind a burst would get a process
    taken out of service just when it is busiest.
    """

    def __init__(self, app: AsgiApp, *, limit: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = frozenset(exempt)
        # One semaphore per event loop: asyncio primitives belong to the loop that first waits on
        # them, and tests run the application on a loop of their own each.
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.limit)
        return slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        async with self._semaphore():
            await self.app(scope, receive, send)
