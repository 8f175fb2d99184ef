"""Publishing realtime events from domain code, only after the transaction commits."""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def publish_now(
    group: str, event: str, data: dict[str, Any], *, seq: int | None = None, message_type: str = "realtime.event"
) -> None:
    """Send to a group now; ephemeral events (typing, presence) use this directly."""
    layer = get_channel_layer()
    if layer is None:
        return
    message: dict[str, Any] = {"type": message_type, "event": event, "data": data}
    if seq is not None:
        message["seq"] = seq
    async_to_sync(layer.group_send)(group, message)


def publish_many(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Send many ``(group, message)`` pairs at once: concurrently, one round trip, not one each."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send_all() -> None:
        await asyncio.gather(*(layer.group_send(group, message) for group, message in messages))

    async_to_sync(send_all)()


def publish_on_commit(group: str, event: str, data: dict[str, Any], *, seq: int | None = None) -> None:
    """Send ``event`` to ``group`` once the surrounding transaction commits (never if it rolls back)."""
    transaction.on_commit(lambda: publish_now(group, event, data, seq=seq), robust=True)
