"""The Redis cache's one-round-trip incr keeps Django's semantics (rate limits rely on them)."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache

pytestmark = pytest.mark.redis


def test_incr_counts_an_existing_key_and_refuses_a_missing_one():
    key = f"test:incr:{uuid.uuid4().hex}"
    with pytest.raises(ValueError, match="not found"):
        cache.incr(key)
    cache.add(key, 1, 30)
    assert cache.incr(key) == 2
    assert cache.incr(key, 5) == 7
    assert cache.get(key) == 7
    cache.delete(key)
    with pytest.raises(ValueError, match="not found"):
        cache.incr(key)
