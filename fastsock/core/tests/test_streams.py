"""Durable streams: seqs per user, resume with ?since=, gaps filled from the database, resync."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from fastsock.core import streams
from fastsock.core.models import UserStream
from fastsock.core.testing import access_token_for, ws_connect

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def make_user(username: str):
    from accounts.models import User

    return await sync_to_async(User.objects.create_user)(username=username, password="x-password-x")


async def append(user, event: str, n: int) -> dict:
    return await sync_to_async(streams.stream_append)(user_ids=[user.pk], event=event, data={"n": n})


async def test_seqs_grow_per_user_from_one():
    alice = await make_user("alice")
    bob = await make_user("bob")
    first = await sync_to_async(streams.stream_append)(user_ids=[alice.pk, bob.pk], event="x", data={})
    second = await sync_to_async(streams.stream_append)(user_ids=[alice.pk], event="x", data={})
    assert first == {alice.pk: 1, bob.pk: 1}
    assert second == {alice.pk: 2}


async def test_live_events_arrive_in_order_with_their_seq():
    alice = await make_user("alice")
    socket, connected, _ = await ws_connect(token=await sync_to_async(access_token_for)(alice))
    assert connected
    for n in range(3):
        await append(alice, "unread", n)
    frames = [await socket.receive_json_from(timeout=5) for _ in range(3)]
    assert [(f["event"], f["seq"], f["data"]["n"]) for f in frames] == [
        ("unread", 1, 0),
        ("unread", 2, 1),
        ("unread", 3, 2),
    ]
    await socket.disconnect()


async def test_a_resuming_client_gets_exactly_what_it_missed_then_live_ones():
    alice = await make_user("alice")
    token = await sync_to_async(access_token_for)(alice)
    for n in range(5):
        await append(alice, "unread", n)
    socket, _, _ = await ws_connect(token=token, path="/ws/?since=2")
    missed = [await socket.receive_json_from(timeout=5) for _ in range(3)]
    assert [f["seq"] for f in missed] == [3, 4, 5]
    await append(alice, "unread", 99)
    live = await socket.receive_json_from(timeout=5)
    assert (live["seq"], live["data"]["n"]) == (6, 99)
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_a_lost_poke_is_filled_in_from_the_database():
    alice = await make_user("alice")
    socket, _, _ = await ws_connect(token=await sync_to_async(access_token_for)(alice))
    # Store two events but let only the second poke through, as if the layer dropped the first.
    await sync_to_async(streams.UserEvent.objects.create)(user=alice, seq=1, event="unread", data={"n": 1})
    await sync_to_async(streams.UserEvent.objects.create)(user=alice, seq=2, event="unread", data={"n": 2})
    await sync_to_async(UserStream.objects.create)(user=alice, last_seq=2)
    await get_channel_layer().group_send(
        f"user.{alice.pk}", {"type": "stream.event", "events": [{"event": "unread", "data_json": '{"n":2}', "seq": 2}]}
    )
    frames = [await socket.receive_json_from(timeout=5) for _ in range(2)]
    assert [f["seq"] for f in frames] == [1, 2]
    await socket.disconnect()


async def test_resuming_from_before_what_is_kept_asks_for_a_resync():
    alice = await make_user("alice")
    for n in range(4):
        await append(alice, "unread", n)
    await sync_to_async(UserStream.objects.filter(user=alice).update)(purged_through=3)
    socket, _, _ = await ws_connect(token=await sync_to_async(access_token_for)(alice), path="/ws/?since=1")
    frame = await socket.receive_json_from(timeout=5)
    assert frame["event"] == "resync"
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


@pytest.mark.parametrize("since", ["abc", "999"])
async def test_a_since_the_server_never_gave_asks_for_a_resync(since):
    alice = await make_user("alice")
    await append(alice, "unread", 1)
    socket, _, _ = await ws_connect(token=await sync_to_async(access_token_for)(alice), path=f"/ws/?since={since}")
    assert (await socket.receive_json_from(timeout=5))["event"] == "resync"
    await socket.disconnect()


async def test_purging_drops_old_events_and_remembers_where():
    from datetime import timedelta

    alice = await make_user("alice")
    for n in range(3):
        await append(alice, "unread", n)
    purged = await sync_to_async(streams.stream_purge)(older_than=timedelta(seconds=-1))
    assert purged == 3
    assert await sync_to_async(streams.stream_position)(user_id=alice.pk) == (3, 3)


async def test_a_frame_from_encoded_data_is_the_frame_from_the_data():
    data = {"message": {"id": 7, "content": 'quote " and \u00e9 and </script>', "reactions": []}}
    from fastsock.core.websocket import protocol

    prepared = protocol.encode_encoded_frame("message.new", streams.encode_data(data), seq=12)
    assert json.loads(prepared) == json.loads(protocol.encode_frame("message.new", data, seq=12))
