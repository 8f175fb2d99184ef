"""The second CI pass: the same code on real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import threading

import pytest
from channels.layers import get_channel_layer
from django.db import connection, connections

from chat.models import Room
from chat.services import direct_room_get_or_create


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_database_is_postgresql_through_psycopg3_with_a_pool():
    assert connection.vendor == "postgresql"
    assert connection.Database.__name__ == "psycopg"
    assert connection.pool is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_a_direct_room_create_exactly_one(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    barrier = threading.Barrier(8)
    rooms: list[int] = []
    errors: list[BaseException] = []

    def open_room(first, second) -> None:
        try:
            barrier.wait(timeout=10)
            room, _ = direct_room_get_or_create(user=first, other=second)
            rooms.append(room.pk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=open_room, args=(alice, bob) if n % 2 else (bob, alice)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(set(rooms)) == 1
    assert Room.objects.filter(kind=Room.Kind.DIRECT).count() == 1


@pytest.mark.redis
@pytest.mark.asyncio
async def test_the_channel_layer_carries_group_messages_through_redis():
    layer = get_channel_layer()
    assert type(layer).__module__.startswith("channels_redis")
    channel = await layer.new_channel()
    await layer.group_add("test.group", channel)
    try:
        await layer.group_send("test.group", {"type": "realtime.event", "event": "x", "data": {"n": 1}})
        message = await layer.receive(channel)
        assert message["data"] == {"n": 1}
    finally:
        await layer.group_discard("test.group", channel)


@pytest.mark.redis
@pytest.mark.asyncio
async def test_an_idle_channel_waits_quietly_past_the_redis_client_timeout():
    """An idle socket's layer receive must outlast redis-py's 5 s read timeout without an error."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(channel), timeout=7)


@pytest.mark.redis
def test_the_cache_is_redis_and_shared():
    import redis
    from django.conf import settings
    from django.core.cache import cache

    cache.set("fastsock-test-key", "value", 30)
    raw = redis.Redis.from_url(settings.REDIS_URL)
    assert any(b"fastsock-test-key" in key for key in raw.keys("*fastsock-test-key*"))
    cache.delete("fastsock-test-key")
