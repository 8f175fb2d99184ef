"""Handlers for the call events of the one ``/ws/`` socket (registered in CallsConfig.ready()).

Thin: check the frame's shape, call a service with this socket as the device, answer this
socket. Timers live here because they belong to a running process: the ring timeout after an
invite, and the grace period after a party's socket closes mid-call; ``calls_sweep`` (Celery
beat) finishes what a process that died left behind.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from django.conf import settings

from fastsock.core.errors import invalid_field
from fastsock.core.websocket.db import database_sync_to_async
from fastsock.core.websocket.protocol import Frame, register_handler

from . import events, selectors, services

if TYPE_CHECKING:
    from fastsock.core.websocket.consumer import SocketConsumer

_timers: set[asyncio.Task[Any]] = set()  # keeps the timers referenced until they run


def _later(seconds: float, function: Any, **kwargs: Any) -> None:
    async def run() -> None:
        await asyncio.sleep(seconds)
        await database_sync_to_async(function)(**kwargs)

    task = asyncio.ensure_future(run())
    _timers.add(task)
    task.add_done_callback(_timers.discard)


def _watch_device(consumer: SocketConsumer) -> None:
    """Once per socket: when it closes, calls it was in end unless it comes back in time."""
    if getattr(consumer, "watching_calls", False):
        return
    consumer.watching_calls = True

    async def closed() -> None:
        for call in await database_sync_to_async(selectors.calls_with_device)(device=consumer.channel_name):
            _later(
                settings.CALL_RECONNECT_GRACE_SECONDS,
                services.call_device_lost,
                call_id=call.pk,
                device=consumer.channel_name,
            )

    consumer.on_disconnect(closed)


def _call_id(data: dict[str, Any]) -> Any:
    call_id = data.get("call_id")
    if call_id is None:
        raise invalid_field("call_id", "This field is required.")
    return call_id


async def handle_invite(consumer: SocketConsumer, frame: Frame) -> None:
    call = await database_sync_to_async(services.call_invite)(
        caller=consumer.user,
        device=consumer.channel_name,
        room_id=frame.data.get("room_id"),
        to_user_id=frame.data.get("to_user_id"),
        media=frame.data.get("media", "video"),
    )
    _watch_device(consumer)
    if call.state == call.State.RINGING:
        _later(settings.CALL_RING_TIMEOUT_SECONDS + 0.2, services.call_ring_timeout, call_id=call.pk)
    # busy / offline / ringing reach this socket as events; the ref ties the call to the frame.
    await consumer.send_event("call.created", {"call": events.call_payload(call)}, ref=frame.ref)


async def handle_accept(consumer: SocketConsumer, frame: Frame) -> None:
    await database_sync_to_async(services.call_accept)(
        user=consumer.user, device=consumer.channel_name, call_id=_call_id(frame.data)
    )
    _watch_device(consumer)


async def handle_reject(consumer: SocketConsumer, frame: Frame) -> None:
    await database_sync_to_async(services.call_reject)(user=consumer.user, call_id=_call_id(frame.data))


async def handle_hangup(consumer: SocketConsumer, frame: Frame) -> None:
    await database_sync_to_async(services.call_hangup)(user=consumer.user, call_id=_call_id(frame.data))


async def handle_resume(consumer: SocketConsumer, frame: Frame) -> None:
    await database_sync_to_async(services.call_resume)(
        user=consumer.user, device=consumer.channel_name, call_id=_call_id(frame.data)
    )
    _watch_device(consumer)


def _signal(event: str) -> Any:
    async def handle(consumer: SocketConsumer, frame: Frame) -> None:
        await database_sync_to_async(services.call_signal)(
            user=consumer.user, device=consumer.channel_name, call_id=_call_id(frame.data), event=event, data=frame.data
        )

    return handle


def register() -> None:
    register_handler("call.invite", handle_invite)
    register_handler("call.accept", handle_accept)
    register_handler("call.reject", handle_reject)
    register_handler("call.hangup", handle_hangup)
    register_handler("call.resume", handle_resume)
    for event in events.SIGNALS:
        register_handler(event, _signal(event))
