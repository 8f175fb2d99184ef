"""The Redis cache backend, with ``incr`` in one round trip.

Django's ``incr`` asks Redis whether the key exists, then increments it: two round trips for
every rate-limited action (django-ratelimit adds the key, then increments it). A small Lua
script does both at once, with the same semantics (a missing key raises ``ValueError``).
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_INCR_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return nil
"""


# Per key: start the counter at 1 with its expiry, or add one to it — django-ratelimit's
# ``add`` then ``incr``, for many keys in one round trip. Returns the counts in key order.
_COUNT_ATTEMPTS = """
local counts = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, 1, 'NX', 'EX', ARGV[1]) then
    counts[i] = 1
  else
    counts[i] = redis.call('INCR', key)
  end
end
return counts
"""


class OneTripRedisCacheClient(RedisCacheClient):
    def incr(self, key: Any, delta: int) -> int:
        client = self.get_client(key, write=True)
        value = client.eval(_INCR_EXISTING, 1, key, delta)
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return int(value)


class OneTripRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = OneTripRedisCacheClient


def count_attempts(cache: BaseCache, keys: list[str], timeout: int) -> list[int]:
    """Count one attempt under each key (a key may repeat); the counts after each, in order.

    A key seen for the first time starts at 1 and expires after ``timeout`` seconds, as
    django-ratelimit's ``add`` + ``incr`` do it, so the counters are the same ones.
    """
    if not keys:
        return []
    if isinstance(cache, OneTripRedisCache):
        made = [cache.make_and_validate_key(key) for key in keys]
        client = cache._cache.get_client(made[0], write=True)
        return [int(count) for count in client.eval(_COUNT_ATTEMPTS, len(made), *made, timeout)]
    counts = []
    for key in keys:
        counts.append(1 if cache.add(key, 1, timeout) else cache.incr(key))
    return counts
