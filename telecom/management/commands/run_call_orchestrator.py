"""``manage.py run_call_orchestrator``: the voice worker (see telecom/orchestrator.py)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand

from telecom.orchestrator import orchestrator_from_settings


class Command(BaseCommand):
    help = "Drive calls through their flows over Asterisk ARI until stopped (SIGINT or SIGTERM)."

    def handle(self, *args: Any, **options: Any) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        orchestrator = orchestrator_from_settings()
        self.stdout.write(f"call orchestrator: ARI at {orchestrator.access.url}, application {orchestrator.access.app}")
        self.stdout.flush()
        await orchestrator.run_forever(stop)
