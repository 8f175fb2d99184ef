"""Sending to sockets through the channel layer.

Durable events go through fastsock.core.streams (stored, then poked here after commit);
ephemeral ones (typing, presence) are sent directly with :func:`publish_ephemeral`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

_publisher: redis.Redis | None = None
_publisher_lock = threading.Lock()


def user_group(user_id: int) -> str:
    """Every socket of a user joins this group; it is the only group FastSock sends to."""
    return f"user.{user_id}"


def publish_many(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Send many ``(group, message)`` pairs at once, in one round trip where the layer allows."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return
    if isinstance(layer, RedisPubSubChannelLayer) and len(_layer_config().get("hosts", [])) == 1:
        _publish_pipelined(layer, messages)
        return

    async def send_all() -> None:
        await asyncio.gather(*(layer.group_send(group, message) for group, message in messages))

    async_to_sync(send_all)()


def _layer_config() -> dict[str, Any]:
    return settings.CHANNEL_LAYERS["default"].get("CONFIG", {})


def _publish_pipelined(layer: RedisPubSubChannelLayer, messages: list[tuple[str, dict[str, Any]]]) -> None:
    """PUBLISH every message in one pipeline, straight from the calling thread.

    The layer's own ``group_send`` publishes one message per round trip under a lock, on the
    event loop that also serves every socket of the process: a message to a room of 20 became
    20 round trips, each waiting for the loop. This writes what ``group_send`` would write
    (the layer's serializer; its channel name for a group, ``<prefix>__group__<group>``, on its
    only host) and is what the layer's subscribers read.
    """
    global _publisher
    with _publisher_lock:
        if _publisher is None:
            hosts = _layer_config()["hosts"]
            address = hosts[0] if isinstance(hosts[0], str) else hosts[0]["address"]
            _publisher = redis.Redis.from_url(address)
    prefix = _layer_config().get("prefix", "asgi")
    pipe = _publisher.pipeline(transaction=False)
    for group, message in messages:
        pipe.publish(f"{prefix}__group__{group}", layer.serialize(message))
    pipe.execute()


def publish_ephemeral(user_ids: Iterable[int], event: str, data: dict[str, Any]) -> None:
    """Send an event without ``seq`` to these users' sockets now; it is not stored or replayed."""
    message = {"type": "realtime.event", "event": event, "data": data}
    publish_many([(user_group(user_id), message) for user_id in sorted(set(user_ids))])


def publish_to_socket(channel: str, event: str, data: dict[str, Any]) -> None:
    """Send an ephemeral event to one socket (one device of a user) by its channel name.

    For what belongs to one device only, such as a call's SDP and ICE, which go to the device
    that accepted the call and to no other, not even the same person's other tabs.
    """
    layer = get_channel_layer()
    if layer is None or not channel:
        return
    async_to_sync(layer.send)(channel, {"type": "realtime.event", "event": event, "data": data})
