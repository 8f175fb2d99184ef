"""The Redis cache backend, with ``incr`` in one round trip.

Django's ``incr`` asks Redis whether the key exists, then increments it: two round trips for
every rate-limited action (django-ratelimit adds the key, then increments it). A small Lua
script does both at once, with the same semantics (a missing key raises ``ValueError``).
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_INCR_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return nil
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
