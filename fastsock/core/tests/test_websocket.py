from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from fastsock.core.realtime import user_group
from fastsock.core.testing import access_token_for, session_cookie_for, ws_connect

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def make_user(username: str, **fields):
    from accounts.models import User

    return await sync_to_async(User.objects.create_user)(username=username, password="x-password-x", **fields)


async def test_socket_without_credentials_is_refused():
    communicator, connected, _ = await ws_connect()
    assert not connected
    await communicator.disconnect()


async def test_socket_with_a_garbage_token_is_refused():
    _, connected, _ = await ws_connect(token="not-a-token")
    assert not connected


async def test_socket_with_a_refresh_token_instead_of_an_access_token_is_refused():
    from rest_framework_simplejwt.tokens import RefreshToken

    alice = await make_user("alice")
    refresh = await sync_to_async(RefreshToken.for_user)(alice)
    _, connected, _ = await ws_connect(token=str(refresh))
    assert not connected


async def test_socket_with_a_token_of_a_deactivated_user_is_refused():
    alice = await make_user("alice", is_active=False)
    token = await sync_to_async(access_token_for)(alice)
    _, connected, _ = await ws_connect(token=token)
    assert not connected


async def test_socket_with_an_invalid_token_is_refused_even_with_a_valid_session():
    alice = await make_user("alice")
    session = await sync_to_async(session_cookie_for)(alice)
    _, connected, _ = await ws_connect(token="forged", session=session)
    assert not connected


async def test_socket_with_a_valid_jwt_is_accepted_and_answers_ping():
    alice = await make_user("alice")
    token = await sync_to_async(access_token_for)(alice)
    communicator, connected, _ = await ws_connect(token=token)
    assert connected
    await communicator.send_json_to({"event": "ping", "ref": "r1"})
    assert await communicator.receive_json_from(timeout=5) == {"event": "pong", "data": {}, "ref": "r1"}
    await communicator.disconnect()


async def test_socket_with_a_session_cookie_is_accepted():
    alice = await make_user("alice")
    session = await sync_to_async(session_cookie_for)(alice)
    communicator, connected, _ = await ws_connect(session=session, origin="http://127.0.0.1:8000")
    assert connected
    await communicator.disconnect()


async def test_socket_with_a_bogus_session_cookie_is_refused():
    _, connected, _ = await ws_connect(session="0123456789abcdefghijklmnopqrstuv")
    assert not connected


async def test_socket_from_a_foreign_origin_is_refused():
    alice = await make_user("alice")
    session = await sync_to_async(session_cookie_for)(alice)
    _, connected, _ = await ws_connect(session=session, origin="https://evil.example")
    assert not connected


async def test_malformed_frames_get_an_error_and_the_socket_stays_open():
    alice = await make_user("alice")
    communicator, connected, _ = await ws_connect(token=await sync_to_async(access_token_for)(alice))
    assert connected
    cases = [
        ("{not json", "malformed_request"),
        ("[" * 30_000, "malformed_request"),  # deeper than Python's JSON parser can go
        ("[1, 2, 3]", "invalid"),
        (json.dumps({"data": {}}), "invalid"),
        (json.dumps({"event": "ping", "data": [1]}), "invalid"),
        (json.dumps({"event": "no.such.event", "data": {}, "ref": "abc"}), "invalid"),
    ]
    for text, code in cases:
        await communicator.send_to(text_data=text)
        frame = await communicator.receive_json_from(timeout=5)
        assert frame["event"] == "error"
        assert frame["data"]["code"] == code, (text, frame)
    assert frame["data"]["ref"] == "abc"
    await communicator.send_json_to({"event": "ping"})
    assert (await communicator.receive_json_from(timeout=5))["event"] == "pong"
    await communicator.disconnect()


async def test_binary_frames_get_an_error():
    alice = await make_user("alice")
    communicator, _, _ = await ws_connect(token=await sync_to_async(access_token_for)(alice))
    await communicator.send_to(bytes_data=b"\x00\x01")
    frame = await communicator.receive_json_from(timeout=5)
    assert frame["data"]["code"] == "malformed_request"
    await communicator.disconnect()


async def test_an_oversized_frame_closes_the_socket_with_1009(settings):
    settings.WS_MAX_FRAME_BYTES = 1024
    alice = await make_user("alice")
    communicator, _, _ = await ws_connect(token=await sync_to_async(access_token_for)(alice))
    await communicator.send_to(text_data=json.dumps({"event": "ping", "data": {"pad": "x" * 2000}}))
    output = await communicator.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": 1009}


async def test_a_flood_of_frames_is_rate_limited(settings):
    settings.WS_FRAMES_PER_SECOND = 1
    settings.WS_FRAME_BURST = 5
    alice = await make_user("alice")
    communicator, _, _ = await ws_connect(token=await sync_to_async(access_token_for)(alice))
    for _ in range(8):
        await communicator.send_json_to({"event": "ping"})
    events = [(await communicator.receive_json_from(timeout=5)) for _ in range(8)]
    assert [frame["event"] for frame in events[:5]] == ["pong"] * 5
    assert all(frame["event"] == "error" and frame["data"]["code"] == "rate_limited" for frame in events[5:])
    await communicator.disconnect()


async def test_ephemeral_events_published_to_a_user_reach_only_that_users_sockets():
    alice = await make_user("alice")
    bob = await make_user("bob")
    alice_socket, _, _ = await ws_connect(token=await sync_to_async(access_token_for)(alice))
    bob_socket, _, _ = await ws_connect(token=await sync_to_async(access_token_for)(bob))
    await get_channel_layer().group_send(
        user_group(alice.pk), {"type": "realtime.event", "event": "typing", "data": {"room_id": 1}}
    )
    frame = await alice_socket.receive_json_from(timeout=5)
    assert frame == {"event": "typing", "data": {"room_id": 1}}
    assert await bob_socket.receive_nothing(timeout=0.2)
    await alice_socket.disconnect()
    await bob_socket.disconnect()


async def test_a_stream_of_invalid_frames_closes_the_socket_with_4008(settings):
    settings.WS_INVALID_FRAMES_MAX = 3
    alice = await make_user("alice")
    communicator, _, _ = await ws_connect(token=await sync_to_async(access_token_for)(alice))
    for _ in range(4):
        await communicator.send_to(text_data="{garbage")
    outputs = []
    for _ in range(5):
        output = await communicator.receive_output(timeout=5)
        outputs.append(output)
        if output["type"] == "websocket.close":
            break
    assert outputs[-1] == {"type": "websocket.close", "code": 4008}
    assert sum(1 for o in outputs if o["type"] == "websocket.send") == 4


async def test_an_event_that_finds_the_client_gone_is_dropped_and_the_clean_up_still_runs():
    """Daphne refuses a send after the client closed; that must not end the consumer before
    it handles the disconnect (which marks the user offline, ends typing and calls)."""
    from autobahn.exception import Disconnected

    from fastsock.core.websocket.consumer import SocketConsumer

    sent: list[dict] = []

    async def closed_connection(message: dict) -> None:
        sent.append(message)
        raise Disconnected("Attempt to send on a closed protocol")

    consumer = SocketConsumer()
    consumer.base_send = closed_connection
    await consumer.send(text_data='{"event":"message.new"}')
    await consumer.send(text_data='{"event":"unread"}')
    assert consumer.peer_gone is True
    assert len(sent) == 1, "once the client is known to be gone, nothing more is attempted"
