"""Presence: online while any socket is open, seen only by people who share a room."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from chat.tests.test_consumers import connect, drain, make_group, make_users, next_event
from fastsock.core import presence

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def test_people_who_share_a_room_see_each_other_come_and_go_across_tabs():
    alice, bob, carol = await make_users("alice", "bob", "carol")
    await make_group(alice, bob)
    alice_ws, carol_ws = await connect(alice), await connect(carol)
    bob_tab_1 = await connect(bob)
    online = await next_event(alice_ws, "presence")
    assert online["data"] == {"user_id": bob.pk, "online": True, "last_seen": None}
    assert "seq" not in online
    bob_tab_2 = await connect(bob)
    await bob_tab_1.disconnect()
    assert not [f for f in await drain(alice_ws) if f["event"] == "presence"], "still online in another tab"
    assert await sync_to_async(presence.is_online)(user_id=bob.pk)
    await bob_tab_2.disconnect()
    offline = await next_event(alice_ws, "presence")
    assert offline["data"]["online"] is False
    assert offline["data"]["last_seen"]
    await sync_to_async(bob.refresh_from_db)()
    assert bob.last_seen is not None
    assert not [f for f in await drain(carol_ws) if f["event"] == "presence"], "carol shares no room with bob"
    await alice_ws.disconnect()
    await carol_ws.disconnect()


async def test_a_socket_whose_process_died_stops_counting_once_its_heartbeat_runs_out(settings):
    settings.PRESENCE_TTL_SECONDS = 0.3
    (alice,) = await make_users("alice")
    await sync_to_async(presence.socket_opened)(user_id=alice.pk, channel="dead-process-channel")
    assert await sync_to_async(presence.is_online)(user_id=alice.pk)
    for _ in range(50):  # bounded wait on the condition
        if not await sync_to_async(presence.is_online)(user_id=alice.pk):
            break
        await asyncio.sleep(0.05)
    assert not await sync_to_async(presence.is_online)(user_id=alice.pk)


async def test_a_heartbeat_that_lands_after_the_close_does_not_bring_the_socket_back():
    await sync_to_async(presence.socket_opened)(user_id=4242, channel="tab-1")
    went_offline = await sync_to_async(presence.socket_closed)(user_id=4242, channel="tab-1")
    await sync_to_async(presence.socket_alive)(user_id=4242, channel="tab-1")  # was already in flight
    assert went_offline
    assert not await sync_to_async(presence.is_online)(user_id=4242)
