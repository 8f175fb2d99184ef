"""A circuit breaker per trunk, kept in the shared cache so every worker and the orchestrator agree.

Closed, calls go through and consecutive transport failures are counted (congestion, an
unreachable trunk, ARI errors: never busy or no answer, which are the callee's answer). After
``TELECOM_BREAKER_FAILURES`` of them in a row the breaker opens and the trunk is skipped for
``TELECOM_BREAKER_OPEN_SECONDS``. Then it is half-open: one caller at a time takes the probe slot
and tries it; a success closes the breaker, a failure opens it again. An operator can force a
trunk open or closed on its connector (``circuit_override``) and the counting stops mattering.
"""

from __future__ import annotations

import time
from typing import Literal

from django.conf import settings
from django.core.cache import cache

from .models import Connector

State = Literal["closed", "open", "half-open"]


def _keys(connector: Connector) -> tuple[str, str, str]:
    prefix = f"telecom:breaker:{connector.pk}"
    return f"{prefix}:failures", f"{prefix}:opened_at", f"{prefix}:probe"


def _override(connector: Connector) -> str:
    return getattr(connector, "circuit_override", "auto") or "auto"


def breaker_state(connector: Connector) -> State:
    """What the breaker says now (an override wins), without taking the probe slot."""
    override = _override(connector)
    if override in ("open", "closed"):
        return override  # type: ignore[return-value]
    _, opened_key, _ = _keys(connector)
    opened_at = cache.get(opened_key)
    if opened_at is None:
        return "closed"
    return "open" if time.time() < opened_at + settings.TELECOM_BREAKER_OPEN_SECONDS else "half-open"


def breaker_allows(connector: Connector) -> bool:
    """Whether to try this trunk now; in half-open only the caller that wins the probe slot may."""
    state = breaker_state(connector)
    if state == "closed":
        return True
    if state == "open":
        return False
    _, _, probe_key = _keys(connector)
    return bool(cache.add(probe_key, 1, timeout=settings.TELECOM_BREAKER_OPEN_SECONDS))


def breaker_record_success(connector: Connector) -> None:
    cache.delete_many(list(_keys(connector)))


def breaker_record_failure(connector: Connector) -> State:
    """Count a transport failure; open the breaker at the threshold (or at once after a probe)."""
    failures_key, opened_key, probe_key = _keys(connector)
    probing = cache.get(opened_key) is not None
    cache.add(failures_key, 0, timeout=None)
    try:
        failures = cache.incr(failures_key)
    except ValueError:  # expired between add and incr
        cache.set(failures_key, 1, timeout=None)
        failures = 1
    if probing or failures >= settings.TELECOM_BREAKER_FAILURES:
        cache.set(opened_key, time.time(), timeout=None)
        cache.delete(probe_key)
    return breaker_state(connector)


def breaker_reset(connector: Connector) -> None:
    """An operator closes the breaker by hand (the admin's reset action)."""
    breaker_record_success(connector)
