"""Asking connectors' gateways whether they answer, on demand (the back office's health check).

Sending marks a connector unhealthy when its gateway cannot be reached and healthy again when
a send gets through; this check lets an operator refresh the mark without waiting for traffic.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from django.utils import timezone

from .models import Connector
from .services import gateway_for

UNHEALTHY_REASON = "The health check got no good answer from the gateway."


def connectors_check_health(queryset: Iterable[Connector]) -> list[tuple[str, bool]]:
    """Ask each SMS connector's gateway for its health, record the answer (``healthy``,
    ``health_checked_at``, ``last_error``) and return ``(name, healthy)`` per connector checked,
    in the order given. Voice (Asterisk) connectors have no SMS adapter and are left out."""
    connectors = [c for c in queryset if c.kind != Connector.Kind.ASTERISK]
    gateways = [gateway_for(connector, for_callbacks=True) for connector in connectors]
    if not gateways:
        return []
    # Each check may wait for a timeout (up to 5 s): ask them side by side, not one after another.
    with ThreadPoolExecutor(max_workers=min(8, len(gateways))) as pool:
        answers = list(pool.map(lambda gateway: gateway.health(), gateways))
    now = timezone.now()
    for connector, healthy in zip(connectors, answers, strict=True):
        Connector.objects.filter(pk=connector.pk).update(
            healthy=healthy, health_checked_at=now, last_error="" if healthy else UNHEALTHY_REASON
        )
    return [(connector.name, healthy) for connector, healthy in zip(connectors, answers, strict=True)]


def trunks_check_health(queryset: Iterable[Connector]) -> list[tuple[str, bool]]:
    """Ask each Asterisk trunk's ARI whether it answers (``GET /asterisk/info``, with the
    connector's credentials), record it like :func:`connectors_check_health` and return
    ``(name, healthy)`` per trunk. The breaker is left alone: it judges calls, not probes."""
    import asyncio

    from .ari import AriClient, AriError
    from .voice import ari_access

    async def probe(connector: Connector) -> bool:
        access = ari_access(connector)
        try:
            async with AriClient.rest(
                url=access.url, username=access.username, password=access.password, request_timeout=5.0
            ) as ari:
                await ari.info()
        except AriError:
            return False
        return True

    async def probe_all(trunks: list[Connector]) -> list[bool]:
        return list(await asyncio.gather(*(probe(trunk) for trunk in trunks)))

    trunks = [c for c in queryset if c.kind == Connector.Kind.ASTERISK]
    if not trunks:
        return []
    answers = asyncio.run(probe_all(trunks))
    now = timezone.now()
    for trunk, healthy in zip(trunks, answers, strict=True):
        Connector.objects.filter(pk=trunk.pk).update(
            healthy=healthy, health_checked_at=now, last_error="" if healthy else "ARI did not answer the probe."
        )
    return [(trunk.name, healthy) for trunk, healthy in zip(trunks, answers, strict=True)]
