"""1:1 calls over /ws/: every path of the state machine, multi-device, and who hears what."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from calls.models import Call
from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.models import Message
from fastsock.core.testing import access_token_for, ws_connect

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@sync_to_async
def make_users(*names: str) -> list[Any]:
    from accounts.models import User

    return [
        User.objects.create_user(username=name, password="x-password-x", display_name=name.title()) for name in names
    ]


@sync_to_async
def direct_room(a: Any, b: Any) -> int:
    return chat_services.direct_room_get_or_create(user=a, other=b)[0].pk


async def connect(user: Any):
    socket, connected, _ = await ws_connect(token=await sync_to_async(access_token_for)(user))
    assert connected
    return socket


async def next_event(socket, event: str, *, wait: float = 5) -> dict[str, Any]:
    """The next frame named ``event``, skipping others (unread counts, notes, presence …)."""
    for _ in range(50):
        frame = await socket.receive_json_from(timeout=wait)
        if frame["event"] == event:
            return frame
    raise AssertionError(f"no {event} frame")


async def hears_nothing_of_calls(socket, *, wait: float = 0.3) -> bool:
    """Negative wait: no call event arrives (chat events about the room may, for members)."""
    while not await socket.receive_nothing(timeout=wait):
        frame = await socket.receive_json_from(timeout=1)
        if frame["event"].startswith("call."):
            return False
    return True


@sync_to_async
def call_row(call_id: int) -> Call:
    return Call.objects.select_related("caller", "callee").get(pk=call_id)


@sync_to_async
def timeline(call_id: int) -> list[tuple[str, dict[str, Any]]]:
    return [(event.kind, event.data) for event in Call.objects.get(pk=call_id).events.order_by("at", "id")]


@sync_to_async
def notes(room_id: int) -> list[tuple[str, int | None]]:
    rows = Message.objects.filter(room_id=room_id, type=Message.Type.SYSTEM).order_by("id")
    return list(rows.values_list("content", "sender_id"))


@sync_to_async
def unread(room_id: int, user: Any) -> int:
    return chat_selectors.membership_for(room_id=room_id, user=user).unread_count


async def invite(socket, room_id: int, media: str = "video") -> dict[str, Any]:
    await socket.send_json_to({"event": "call.invite", "data": {"room_id": room_id, "media": media}, "ref": "c1"})
    created = await next_event(socket, "call.created")
    assert created["ref"] == "c1"
    return created["data"]["call"]


async def test_every_device_rings_the_first_to_accept_wins_and_only_it_gets_the_signaling():
    alice, bob, carol = await make_users("alice", "bob", "carol")
    room_id = await direct_room(alice, bob)
    alice_ws, bob_phone, bob_laptop, carol_ws = [await connect(u) for u in (alice, bob, bob, carol)]

    call = await invite(alice_ws, room_id)
    assert call["state"] == "ringing"
    assert (await next_event(alice_ws, "call.ringing"))["data"]["devices"] == 2
    for device in (bob_phone, bob_laptop):
        incoming = await next_event(device, "call.incoming")
        assert incoming["data"]["call"]["caller"]["username"] == "alice"

    await bob_laptop.send_json_to({"event": "call.accept", "data": {"call_id": call["id"]}})
    assert (await next_event(alice_ws, "call.accepted"))["data"]["call"]["state"] == "active"
    await next_event(bob_laptop, "call.accepted")
    assert (await next_event(bob_phone, "call.answered_elsewhere"))["data"]["call_id"] == call["id"]

    await alice_ws.send_json_to({"event": "call.offer", "data": {"call_id": call["id"], "sdp": "v=0 offer"}})
    offer = await next_event(bob_laptop, "call.offer")
    assert offer["data"] == {"call_id": call["id"], "sdp": "v=0 offer"}
    await bob_laptop.send_json_to({"event": "call.answer", "data": {"call_id": call["id"], "sdp": "v=0 answer"}})
    assert (await next_event(alice_ws, "call.answer"))["data"]["sdp"] == "v=0 answer"
    candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    await bob_laptop.send_json_to({"event": "call.ice", "data": {"call_id": call["id"], "candidate": candidate}})
    assert (await next_event(alice_ws, "call.ice"))["data"]["candidate"] == candidate

    # Bob's other device, and anyone else, never sees SDP or candidates, nor may send them.
    assert await hears_nothing_of_calls(bob_phone)
    assert await hears_nothing_of_calls(carol_ws)
    await bob_phone.send_json_to({"event": "call.ice", "data": {"call_id": call["id"], "candidate": candidate}})
    assert (await next_event(bob_phone, "error"))["data"]["code"] == "forbidden"
    await carol_ws.send_json_to({"event": "call.offer", "data": {"call_id": call["id"], "sdp": "v=0 evil"}})
    assert (await next_event(carol_ws, "error"))["data"]["code"] == "not_found"
    assert await hears_nothing_of_calls(bob_laptop)

    await alice_ws.send_json_to({"event": "call.hangup", "data": {"call_id": call["id"]}})
    for device in (bob_phone, bob_laptop, alice_ws):
        ended = await next_event(device, "call.ended")
        assert ended["data"]["call"]["outcome"] == "completed"
    row = await call_row(call["id"])
    assert row.duration_seconds is not None
    kinds = [kind for kind, _ in await timeline(call["id"])]
    assert kinds == ["invited", "ringing", "accepted", "ended"]
    assert (await timeline(call["id"]))[1][1] == {"devices": 2}
    [(note, sender)] = await notes(room_id)
    assert note.startswith("Video call · ")
    assert sender is None  # a call both took part in is news to nobody
    assert await unread(room_id, bob) == 0
    for socket in (alice_ws, bob_phone, bob_laptop, carol_ws):
        await socket.disconnect()


async def test_declining_ends_the_call_for_the_caller_and_the_other_devices():
    alice, bob = await make_users("alice", "bob")
    room_id = await direct_room(alice, bob)
    alice_ws, bob_phone, bob_laptop = [await connect(u) for u in (alice, bob, bob)]
    call = await invite(alice_ws, room_id, media="audio")
    await next_event(bob_laptop, "call.incoming")
    await bob_phone.send_json_to({"event": "call.reject", "data": {"call_id": call["id"]}})
    for device in (alice_ws, bob_laptop):
        assert (await next_event(device, "call.ended"))["data"]["call"]["outcome"] == "rejected"
    assert await notes(room_id) == [("Declined voice call", None)]
    # A caller cannot "decline" its own call, and a decided call cannot be accepted.
    await bob_laptop.send_json_to({"event": "call.accept", "data": {"call_id": call["id"]}})
    assert (await next_event(bob_laptop, "error"))["data"]["code"] == "conflict"
    for socket in (alice_ws, bob_phone, bob_laptop):
        await socket.disconnect()


async def test_a_caller_who_hangs_up_while_it_rings_leaves_a_missed_call_unread_for_the_callee():
    alice, bob = await make_users("alice", "bob")
    room_id = await direct_room(alice, bob)
    alice_ws, bob_ws = await connect(alice), await connect(bob)
    call = await invite(alice_ws, room_id)
    await next_event(bob_ws, "call.incoming")
    await alice_ws.send_json_to({"event": "call.hangup", "data": {"call_id": call["id"]}})
    assert (await next_event(bob_ws, "call.ended"))["data"]["call"]["outcome"] == "canceled"
    assert await notes(room_id) == [("Missed video call", alice.pk)]
    assert await unread(room_id, bob) == 1
    assert await unread(room_id, alice) == 0
    await alice_ws.disconnect()
    await bob_ws.disconnect()


async def test_a_callee_in_another_call_is_busy_and_is_not_disturbed():
    alice, bob, carol = await make_users("alice", "bob", "carol")
    alice_bob, carol_bob = await direct_room(alice, bob), await direct_room(carol, bob)
    alice_ws, bob_ws, carol_ws = [await connect(u) for u in (alice, bob, carol)]
    first = await invite(carol_ws, carol_bob)
    await next_event(bob_ws, "call.incoming")
    await bob_ws.send_json_to({"event": "call.accept", "data": {"call_id": first["id"]}})
    await next_event(carol_ws, "call.accepted")
    await next_event(bob_ws, "call.accepted")

    second = await invite(alice_ws, alice_bob)
    busy = await next_event(alice_ws, "call.busy")
    assert busy["data"]["call"]["id"] == second["id"]
    assert busy["data"]["call"]["outcome"] == "busy"
    assert await hears_nothing_of_calls(bob_ws)
    assert await unread(alice_bob, bob) == 1  # the missed call waits in the conversation
    # Someone already in a call cannot start another.
    await carol_ws.send_json_to({"event": "call.invite", "data": {"room_id": carol_bob}})
    assert (await next_event(carol_ws, "error"))["data"]["code"] == "conflict"
    for socket in (alice_ws, bob_ws, carol_ws):
        await socket.disconnect()


async def test_a_callee_with_no_open_socket_is_offline_at_once_and_gets_a_missed_call():
    alice, bob = await make_users("alice", "bob")
    room_id = await direct_room(alice, bob)
    alice_ws = await connect(alice)
    call = await invite(alice_ws, room_id)
    offline = await next_event(alice_ws, "call.offline")
    assert offline["data"]["call"]["outcome"] == "missed"
    assert (await call_row(call["id"])).state == Call.State.ENDED
    assert await unread(room_id, bob) == 1
    await alice_ws.disconnect()


async def test_a_call_nobody_answers_rings_out(settings):
    settings.CALL_RING_TIMEOUT_SECONDS = 1
    alice, bob = await make_users("alice", "bob")
    room_id = await direct_room(alice, bob)
    alice_ws, bob_ws = await connect(alice), await connect(bob)
    call = await invite(alice_ws, room_id)
    await next_event(bob_ws, "call.incoming")
    for socket in (alice_ws, bob_ws):
        assert (await next_event(socket, "call.ended", wait=5))["data"]["call"]["outcome"] == "unanswered"
    assert [kind for kind, _ in await timeline(call["id"])][-1] == "ended"
    await alice_ws.disconnect()
    await bob_ws.disconnect()


async def test_a_device_lost_mid_call_ends_it_after_the_grace_period_unless_it_comes_back(settings):
    settings.CALL_RECONNECT_GRACE_SECONDS = 1
    alice, bob = await make_users("alice", "bob")
    room_id = await direct_room(alice, bob)
    alice_ws, bob_ws = await connect(alice), await connect(bob)
    call = await invite(alice_ws, room_id)
    await next_event(bob_ws, "call.incoming")
    await bob_ws.send_json_to({"event": "call.accept", "data": {"call_id": call["id"]}})
    await next_event(alice_ws, "call.accepted")

    # Bob's socket drops and a new one resumes the call in time: it goes on.
    await bob_ws.disconnect()
    bob_again = await connect(bob)
    await bob_again.send_json_to({"event": "call.resume", "data": {"call_id": call["id"]}})
    assert (await next_event(alice_ws, "call.resumed"))["data"]["call_id"] == call["id"]
    assert await hears_nothing_of_calls(alice_ws, wait=1.5)
    assert (await call_row(call["id"])).state == Call.State.ACTIVE
    await alice_ws.send_json_to(
        {"event": "call.offer", "data": {"call_id": call["id"], "sdp": "v=0", "ice_restart": True}}
    )
    assert (await next_event(bob_again, "call.offer"))["data"]["ice_restart"] is True

    # Now it drops for good: after the grace period the call fails for the other side.
    await bob_again.disconnect()
    ended = await next_event(alice_ws, "call.ended", wait=5)
    assert ended["data"]["call"]["outcome"] == "failed"
    kinds = [kind for kind, _ in await timeline(call["id"])]
    assert kinds == ["invited", "ringing", "accepted", "resumed", "ice_restart", "ended"]
    await alice_ws.disconnect()


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({}, "invalid", "room_id"),
        ({"room_id": "x"}, "not_found", None),
        ({"room_id": 999999}, "not_found", None),
        ({"to_user_id": "bob"}, "invalid", "to_user_id"),
        ({"room_id": None, "to_user_id": None}, "invalid", "room_id"),
        ({"room_id": 1, "media": "hologram"}, "invalid", "media"),
    ],
)
async def test_bad_invites_get_a_clear_error_and_create_nothing(data, code, field):
    (alice,) = await make_users("alice")
    alice_ws = await connect(alice)
    await alice_ws.send_json_to({"event": "call.invite", "data": data, "ref": "r"})
    error = await next_event(alice_ws, "error")
    assert error["data"]["code"] == code
    assert error["data"]["ref"] == "r"
    if field:
        assert field in error["data"]["details"]
    assert await sync_to_async(Call.objects.count)() == 0
    await alice_ws.disconnect()


async def test_only_people_who_share_a_room_can_call_each_other():
    alice, bob, mallory = await make_users("alice", "bob", "mallory")
    room_id = await direct_room(alice, bob)
    mallory_ws, bob_ws = await connect(mallory), await connect(bob)
    await mallory_ws.send_json_to({"event": "call.invite", "data": {"to_user_id": bob.pk}})
    assert (await next_event(mallory_ws, "error"))["data"]["code"] == "forbidden"
    await mallory_ws.send_json_to({"event": "call.invite", "data": {"room_id": room_id}})
    assert (await next_event(mallory_ws, "error"))["data"]["code"] == "not_found"
    assert await hears_nothing_of_calls(bob_ws)
    group = await sync_to_async(chat_services.room_create_group)(creator=bob, name="Team", member_ids=[alice.pk])
    await bob_ws.send_json_to({"event": "call.invite", "data": {"room_id": group.pk}})
    assert "room_id" in (await next_event(bob_ws, "error"))["data"]["details"]
    await mallory_ws.disconnect()
    await bob_ws.disconnect()


async def test_signaling_before_the_call_is_accepted_is_refused():
    alice, bob = await make_users("alice", "bob")
    room_id = await direct_room(alice, bob)
    alice_ws, bob_ws = await connect(alice), await connect(bob)
    call = await invite(alice_ws, room_id)
    await alice_ws.send_json_to({"event": "call.offer", "data": {"call_id": call["id"], "sdp": "v=0"}})
    assert (await next_event(alice_ws, "error"))["data"]["code"] == "conflict"
    await alice_ws.send_json_to({"event": "call.hangup", "data": {"call_id": call["id"]}})
    await next_event(alice_ws, "call.ended")
    await alice_ws.disconnect()
    await bob_ws.disconnect()


async def test_invites_are_rate_limited(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "calls.invite.user": "2/m"}
    alice, bob = await make_users("alice", "bob")
    room_id = await direct_room(alice, bob)
    alice_ws = await connect(alice)
    for _ in range(2):
        await invite(alice_ws, room_id)  # bob is offline: each ends at once
    await alice_ws.send_json_to({"event": "call.invite", "data": {"room_id": room_id}})
    error = await next_event(alice_ws, "error")
    assert error["data"]["code"] == "rate_limited"
    await alice_ws.disconnect()
