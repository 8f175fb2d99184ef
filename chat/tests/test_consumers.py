"""The chat over /ws/: delivery states end to end, privacy, resume, typing and bad frames."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from chat import selectors, services
from chat.models import Message
from fastsock.core.testing import access_token_for, api_client_for, ws_connect

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@sync_to_async
def make_users(*names: str) -> list[Any]:
    from accounts.models import User

    return [
        User.objects.create_user(username=name, password="x-password-x", display_name=name.title()) for name in names
    ]


@sync_to_async
def make_group(owner: Any, *members: Any) -> int:
    return services.room_create_group(creator=owner, name="Team", member_ids=[m.pk for m in members]).pk


async def connect(user: Any, since: int | None = None):
    token = await sync_to_async(access_token_for)(user)
    path = "/ws/" if since is None else f"/ws/?since={since}"
    socket, connected, _ = await ws_connect(token=token, path=path)
    assert connected
    return socket


async def next_event(socket, event: str, *, wait: float = 5) -> dict[str, Any]:
    """The next frame named ``event``, skipping others (waits on the condition, bounded)."""
    for _ in range(50):
        frame = await socket.receive_json_from(timeout=wait)
        if frame["event"] == event:
            return frame
    raise AssertionError(f"no {event} frame")


async def drain(socket) -> list[dict[str, Any]]:
    frames = []
    while not await socket.receive_nothing(timeout=0.2):
        frames.append(await socket.receive_json_from(timeout=1))
    return frames


async def test_a_message_goes_sent_delivered_read_end_to_end():
    alice, bob, carol = await make_users("alice", "bob", "carol")
    room_id = await make_group(alice, bob)
    alice_ws, alice_other_tab, bob_ws, carol_ws = [await connect(u) for u in (alice, alice, bob, carol)]

    await alice_ws.send_json_to(
        {"event": "message.send", "ref": "r1", "data": {"room_id": room_id, "content": "hi", "client_id": "c-1"}}
    )
    ack = await next_event(alice_ws, "message.ack")
    assert ack["ref"] == "r1"
    assert ack["data"]["client_id"] == "c-1"
    message_id = ack["data"]["message"]["id"]
    new = await next_event(bob_ws, "message.new")
    assert new["data"]["message"]["id"] == message_id
    assert new["seq"] >= 1
    assert (await next_event(bob_ws, "unread"))["data"] == {"room_id": room_id, "unread_count": 1}
    assert (await next_event(alice_other_tab, "message.new"))["data"]["message"]["id"] == message_id

    await bob_ws.send_json_to({"event": "message.delivered", "data": {"message_ids": [message_id]}})
    delivered = await next_event(alice_ws, "message.delivered")
    assert delivered["data"] == {"room_id": room_id, "user_id": bob.pk, "message_id": message_id}

    await bob_ws.send_json_to({"event": "message.read", "data": {"room_id": room_id, "message_id": message_id}})
    read = await next_event(alice_ws, "message.read")
    assert read["data"] == {"room_id": room_id, "user_id": bob.pk, "message_id": message_id}
    assert (await next_event(bob_ws, "unread"))["data"]["unread_count"] == 0

    assert await carol_ws.receive_nothing(timeout=0.3), "a non-member's socket hears nothing from the room"
    for socket in (alice_ws, alice_other_tab, bob_ws, carol_ws):
        await socket.disconnect()


async def test_a_resend_with_the_same_client_id_is_acked_with_the_original_and_not_redelivered():
    alice, bob = await make_users("alice", "bob")
    room_id = await make_group(alice, bob)
    alice_ws, bob_ws = await connect(alice), await connect(bob)
    frame = {"event": "message.send", "data": {"room_id": room_id, "content": "once", "client_id": "same"}}
    await alice_ws.send_json_to(frame)
    first = await next_event(alice_ws, "message.ack")
    await next_event(bob_ws, "message.new")
    await alice_ws.send_json_to(frame)
    again = await next_event(alice_ws, "message.ack")
    assert again["data"]["message"]["id"] == first["data"]["message"]["id"]
    assert again["data"]["duplicate"] is True
    assert not [f for f in await drain(bob_ws) if f["event"] == "message.new"]
    assert await sync_to_async(Message.objects.filter(client_id="same").count)() == 1
    await alice_ws.disconnect()
    await bob_ws.disconnect()


async def test_messages_sent_over_rest_reach_sockets_too():
    alice, bob = await make_users("alice", "bob")
    room_id = await make_group(alice, bob)
    bob_ws = await connect(bob)
    await sync_to_async(
        lambda: api_client_for(alice).post(f"/api/v1/rooms/{room_id}/messages", {"content": "from REST"}, format="json")
    )()
    new = await next_event(bob_ws, "message.new")
    assert new["data"]["message"]["content"] == "from REST"
    await bob_ws.disconnect()


async def test_edits_deletes_and_reactions_reach_members():
    alice, bob = await make_users("alice", "bob")
    room_id = await make_group(alice, bob)
    alice_ws, bob_ws = await connect(alice), await connect(bob)
    await alice_ws.send_json_to(
        {"event": "message.send", "data": {"room_id": room_id, "content": "v1", "client_id": "e"}}
    )
    message_id = (await next_event(alice_ws, "message.ack"))["data"]["message"]["id"]
    await alice_ws.send_json_to({"event": "message.edit", "data": {"message_id": message_id, "content": "v2"}})
    assert (await next_event(bob_ws, "message.updated"))["data"]["message"]["content"] == "v2"
    await bob_ws.send_json_to({"event": "message.react", "data": {"message_id": message_id, "emoji": "👍", "on": True}})
    reaction = await next_event(alice_ws, "message.reaction")
    assert reaction["data"]["reactions"] == [{"emoji": "👍", "count": 1, "user_ids": [bob.pk]}]
    assert reaction["data"]["on"] is True
    await alice_ws.send_json_to({"event": "message.delete", "data": {"message_id": message_id}})
    deleted = await next_event(bob_ws, "message.deleted")
    assert deleted["data"]["message"]["deleted"] is True
    assert deleted["data"]["message"]["content"] == ""
    await alice_ws.disconnect()
    await bob_ws.disconnect()


async def test_reconnecting_with_since_replays_everything_missed_once_and_in_order():
    alice, bob = await make_users("alice", "bob")
    room_id = await make_group(alice, bob)
    bob_ws = await connect(bob)
    alice_ws = await connect(alice)
    await alice_ws.send_json_to(
        {"event": "message.send", "data": {"room_id": room_id, "content": "1", "client_id": "a1"}}
    )
    last_seen = (await next_event(bob_ws, "message.new"))["seq"]
    seen_seqs = [f["seq"] for f in await drain(bob_ws) if "seq" in f] or [last_seen]
    last_seen = max([last_seen, *seen_seqs])
    await bob_ws.disconnect()

    # While bob is away: two messages, an edit, a reaction and a read by alice.
    for n in (2, 3):
        await alice_ws.send_json_to(
            {"event": "message.send", "data": {"room_id": room_id, "content": str(n), "client_id": f"a{n}"}}
        )
        ack = await next_event(alice_ws, "message.ack")
    last_id = ack["data"]["message"]["id"]
    await alice_ws.send_json_to({"event": "message.edit", "data": {"message_id": last_id, "content": "3!"}})
    await alice_ws.send_json_to({"event": "message.react", "data": {"message_id": last_id, "emoji": "🎉"}})
    await alice_ws.send_json_to({"event": "message.read", "data": {"room_id": room_id}})
    await drain(alice_ws)

    back = await connect(bob, since=last_seen)
    frames = await drain(back)
    seqs = [f["seq"] for f in frames]
    assert seqs == list(range(last_seen + 1, last_seen + 1 + len(seqs))), "in order, no gaps, no repeats"
    names = [f["event"] for f in frames]
    assert names.count("message.new") == 2
    assert "message.updated" in names
    assert "message.reaction" in names
    assert "message.read" in names
    assert [f["data"]["message"]["content"] for f in frames if f["event"] == "message.new"] == ["2", "3"]
    await back.disconnect()
    await alice_ws.disconnect()


async def test_a_removed_member_stops_hearing_and_an_added_one_starts_without_reconnecting():
    alice, bob, carol = await make_users("alice", "bob", "carol")
    room_id = await make_group(alice, bob)
    alice_ws, bob_ws, carol_ws = await connect(alice), await connect(bob), await connect(carol)
    await sync_to_async(lambda: api_client_for(alice).delete(f"/api/v1/rooms/{room_id}/members/{bob.pk}"))()
    assert (await next_event(bob_ws, "room.member_removed"))["data"]["user_id"] == bob.pk
    await sync_to_async(
        lambda: api_client_for(alice).post(f"/api/v1/rooms/{room_id}/members", {"user_id": carol.pk}, format="json")
    )()
    assert (await next_event(carol_ws, "room.member_added"))["data"]["room"]["id"] == room_id
    await drain(bob_ws)
    await drain(carol_ws)
    await alice_ws.send_json_to(
        {"event": "message.send", "data": {"room_id": room_id, "content": "x", "client_id": "z"}}
    )
    assert (await next_event(carol_ws, "message.new"))["data"]["message"]["content"] == "x"
    assert not [f for f in await drain(bob_ws) if f["event"].startswith("message.")]
    for socket in (alice_ws, bob_ws, carol_ws):
        await socket.disconnect()


async def test_typing_reaches_the_other_members_only_throttled_and_stops_when_the_socket_closes():
    alice, bob, carol = await make_users("alice", "bob", "carol")
    room_id = await make_group(alice, bob)
    alice_ws, bob_ws, carol_ws = await connect(alice), await connect(bob), await connect(carol)
    await drain(bob_ws)
    for _ in range(3):
        await alice_ws.send_json_to({"event": "typing.start", "data": {"room_id": room_id}})
    typing = await next_event(bob_ws, "typing")
    assert typing == {"event": "typing", "data": {"room_id": room_id, "user_id": alice.pk, "active": True}}
    assert "seq" not in typing
    assert not [f for f in await drain(bob_ws) if f["event"] == "typing"], "repeats are throttled"
    assert not [f for f in await drain(alice_ws) if f["event"] == "typing"], "not echoed to the typist"
    await alice_ws.disconnect()
    stopped = await next_event(bob_ws, "typing")
    assert stopped["data"]["active"] is False
    assert await carol_ws.receive_nothing(timeout=0.2)
    await bob_ws.disconnect()
    await carol_ws.disconnect()


async def test_typing_that_is_never_stopped_expires(settings):
    settings.TYPING_TIMEOUT_SECONDS = 0.3
    alice, bob = await make_users("alice", "bob")
    room_id = await make_group(alice, bob)
    alice_ws, bob_ws = await connect(alice), await connect(bob)
    await drain(bob_ws)
    await alice_ws.send_json_to({"event": "typing.start", "data": {"room_id": room_id}})
    assert (await next_event(bob_ws, "typing"))["data"]["active"] is True
    assert (await next_event(bob_ws, "typing", wait=3))["data"]["active"] is False
    await alice_ws.disconnect()
    await bob_ws.disconnect()


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"content": "x", "client_id": "c"}, "invalid", "room_id"),
        ({"room_id": "1", "content": "x", "client_id": "c"}, "invalid", "room_id"),
        ({"room_id": 999999, "content": "x", "client_id": "c"}, "not_found", None),
        ({"room_id": "ROOM", "content": "x"}, "invalid", "client_id"),
        ({"room_id": "ROOM", "content": "", "client_id": "c"}, "invalid", "content"),
        ({"room_id": "ROOM", "content": ["x"], "client_id": "c"}, "invalid", "content"),
    ],
)
async def test_bad_sends_get_an_error_with_the_ref_and_store_nothing(data, code, field):
    (alice,) = await make_users("alice")
    room_id = await make_group(alice)
    data = {key: (room_id if value == "ROOM" else value) for key, value in data.items()}
    socket = await connect(alice)
    await drain(socket)
    await socket.send_json_to({"event": "message.send", "ref": "bad", "data": data})
    error = await next_event(socket, "error")
    assert error["data"]["code"] == code
    assert error["data"]["ref"] == "bad"
    if field:
        assert field in error["data"]["details"]
    assert await sync_to_async(Message.objects.exclude(type="system").count)() == 0
    await socket.send_json_to({"event": "ping"})
    assert (await next_event(socket, "pong"))["event"] == "pong"
    await socket.disconnect()


async def test_a_non_member_cannot_send_read_or_type_in_a_room():
    alice, carol = await make_users("alice", "carol")
    room_id = await make_group(alice)
    socket = await connect(carol)
    for event, data in [
        ("message.send", {"room_id": room_id, "content": "x", "client_id": "c"}),
        ("message.read", {"room_id": room_id}),
        ("typing.start", {"room_id": room_id}),
    ]:
        await socket.send_json_to({"event": event, "data": data})
        assert (await next_event(socket, "error"))["data"]["code"] == "not_found"
    await socket.disconnect()


async def test_sending_over_the_socket_is_rate_limited_per_person(rate):
    rate("chat.message.user", "2/m")
    alice, bob = await make_users("alice", "bob")
    room_id = await make_group(alice, bob)
    socket = await connect(alice)
    for n in range(3):
        await socket.send_json_to(
            {"event": "message.send", "data": {"room_id": room_id, "content": "x", "client_id": f"r{n}"}}
        )
    await next_event(socket, "message.ack")
    await next_event(socket, "message.ack")
    error = await next_event(socket, "error")
    assert error["data"]["code"] == "rate_limited"
    assert error["data"]["details"]["client_id"] == "r2"
    await socket.disconnect()


async def test_membership_check_uses_the_single_rule(monkeypatch):
    calls: list[int] = []
    original = selectors.memberships_for_many

    def spy(pairs):
        calls.extend(room_id for room_id, _user in pairs)
        return original(pairs)

    monkeypatch.setattr(selectors, "memberships_for_many", spy)
    alice, bob = await make_users("alice", "bob")
    room_id = await make_group(alice, bob)
    socket = await connect(alice)
    await socket.send_json_to({"event": "message.send", "data": {"room_id": room_id, "content": "x", "client_id": "s"}})
    await next_event(socket, "message.ack")
    assert room_id in calls
    await socket.disconnect()


async def test_sends_arriving_together_each_get_their_own_answer():
    """Sends from several sockets at once are stored together; each still gets its own outcome."""
    alice, bob, carol = await make_users("alice", "bob", "carol")
    room_id = await make_group(alice, bob)
    alice_ws, bob_ws, carol_ws = [await connect(u) for u in (alice, bob, carol)]
    sends = [
        (alice_ws, {"room_id": room_id, "content": "from alice", "client_id": "a-1"}),
        (bob_ws, {"room_id": room_id, "content": "from bob", "client_id": "b-1"}),
        (carol_ws, {"room_id": room_id, "content": "not my room", "client_id": "c-1"}),
    ]
    await asyncio.gather(*(socket.send_json_to({"event": "message.send", "data": data}) for socket, data in sends))
    # Every frame each member's socket gets until it has its ack and both messages, in any order.
    seen: dict[Any, list[dict[str, Any]]] = {alice_ws: [], bob_ws: []}
    for socket, frames in seen.items():
        for _ in range(20):
            events = [frame["event"] for frame in frames]
            if events.count("message.new") == 2 and "message.ack" in events:
                break
            frames.append(await socket.receive_json_from(timeout=5))
    alice_ack, bob_ack = (next(f for f in seen[s] if f["event"] == "message.ack") for s in (alice_ws, bob_ws))
    refused = await next_event(carol_ws, "error")
    assert alice_ack["data"]["message"]["content"] == "from alice"
    assert bob_ack["data"]["message"]["content"] == "from bob"
    assert refused["data"]["code"] == "not_found"
    assert refused["data"]["details"]["client_id"] == "c-1"
    # Each member gets both messages once, in id order; the non-member nothing.
    ids = sorted([alice_ack["data"]["message"]["id"], bob_ack["data"]["message"]["id"]])
    for socket, frames in seen.items():
        frames += await drain(socket)
        assert [f["data"]["message"]["id"] for f in frames if f["event"] == "message.new"] == ids
    assert await carol_ws.receive_nothing(timeout=0.3)
    assert await sync_to_async(Message.objects.filter(room_id=room_id, type="text").count)() == 2
    for socket in (alice_ws, bob_ws, carol_ws):
        await socket.disconnect()
