import pytest

from chat.services import room_create_group

pytestmark = pytest.mark.django_db


def test_the_chat_lists_the_users_rooms(client, alice, bob):
    room_create_group(creator=alice, name="Book club", member_ids=[bob.pk])
    client.force_login(bob)
    response = client.get("/")
    assert b"Book club" in response.content


def test_a_member_can_open_a_room_by_its_link(client, alice, bob):
    room = room_create_group(creator=alice, name="Book club", member_ids=[bob.pk])
    client.force_login(bob)
    assert client.get(f"/r/{room.pk}/").status_code == 200


def test_a_non_member_cannot_tell_a_room_exists(client, alice, carol):
    room = room_create_group(creator=alice, name="Secret plans")
    client.force_login(carol)
    existing = client.get(f"/r/{room.pk}/")
    missing = client.get("/r/999999/")
    assert existing.status_code == missing.status_code == 404
    assert b"Secret plans" not in existing.content


def _bootstrap(response):
    import json
    import re

    match = re.search(rb'<script id="chat-bootstrap" type="application/json">(.*?)</script>', response.content, re.S)
    assert match, "the page hands its state to the script"
    return json.loads(match.group(1))


def test_the_page_hands_the_script_its_rooms_and_where_its_stream_stands(client, alice, bob, carol):
    from chat.services import direct_room_get_or_create
    from fastsock.core import presence, streams

    room_create_group(creator=alice, name="Book club", member_ids=[bob.pk])
    room_create_group(creator=carol, name="Carol's secret")
    direct, _ = direct_room_get_or_create(user=bob, other=alice)
    presence.socket_opened(user_id=alice.pk, channel="alice-tab")
    try:
        client.force_login(bob)
        data = _bootstrap(client.get(f"/r/{direct.pk}/"))
    finally:
        presence.socket_closed(user_id=alice.pk, channel="alice-tab")
    assert data["me"]["username"] == "bob"
    assert data["stream_seq"] == streams.stream_position(user_id=bob.pk)[0] > 0
    assert data["current_room_id"] == direct.pk
    titles = {room["title"]: room for room in data["rooms"]}
    assert set(titles) == {"Book club", alice.name}
    assert titles[alice.name]["peer"]["online"] is True
    assert data["limits"]["upload_max_bytes"] > 0


def test_the_page_escapes_what_people_typed(client, alice, bob):
    room_create_group(creator=alice, name="</script><script>alert(1)</script>", member_ids=[bob.pk])
    client.force_login(bob)
    response = client.get("/")
    assert b"<script>alert(1)</script>" not in response.content
    assert _bootstrap(response)["rooms"][0]["name"] == "</script><script>alert(1)</script>"


def test_the_page_offers_group_calls_only_when_janus_is_configured(client, alice, settings):
    client.force_login(alice)
    settings.JANUS_URL = settings.JANUS_ADMIN_URL = settings.JANUS_ADMIN_SECRET = ""
    assert _bootstrap(client.get("/"))["calls"]["group_calls"] is False
    settings.JANUS_URL, settings.JANUS_ADMIN_URL = "http://127.0.0.1:1/janus", "http://127.0.0.1:2/admin"
    settings.JANUS_ADMIN_SECRET = "s"
    assert _bootstrap(client.get("/"))["calls"]["group_calls"] is True
