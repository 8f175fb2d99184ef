"""Sending to sockets through the channel layer.

Durable events go through fastsock.core.streams (stored, then poked here after commit);
ephemeral ones (typing, presence) are sent directly with :func:`publish_ephemeral`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def user_group(user_id: int) -> str:
    """Every socket of a user joins this group; it is the only group FastSock sends to."""
    return f"user.{user_id}"


def publish_many(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Send many ``(group, message)`` pairs at once: concurrently, one round trip, not one each."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send_all() -> None:
        await asyncio.gather(*(layer.group_send(group, message) for group, message in messages))

    async_to_sync(send_all)()


def publish_ephemeral(user_ids: Iterable[int], event: str, data: dict[str, Any]) -> None:
    """Send an event without ``seq`` to these users' sockets now; it is not stored or replayed."""
    message = {"type": "realtime.event", "event": event, "data": data}
    publish_many([(user_group(user_id), message) for user_id in sorted(set(user_ids))])
