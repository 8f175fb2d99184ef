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
