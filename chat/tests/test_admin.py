import pytest
from django.test import Client

from chat import selectors, services
from chat.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator(make_user):
    return make_user("mod", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(moderator):
    client = Client()
    client.force_login(moderator)
    return client


@pytest.fixture
def message(alice, bob):
    room = services.room_create_group(creator=alice, name="Team", member_ids=[bob.pk])
    sent, _ = services.message_send(membership=selectors.membership_for(room_id=room.pk, user=bob), content="spam spam")
    return sent


@pytest.mark.parametrize("model", ["room", "membership", "message", "attachment"])
def test_every_chat_list_page_opens_and_searches(admin_client, message, model):
    assert admin_client.get(f"/admin/chat/{model}/").status_code == 200
    assert admin_client.get(f"/admin/chat/{model}/", {"q": "spam"}).status_code == 200


def test_a_moderator_finds_and_tombstones_a_message(admin_client, message):
    found = admin_client.get("/admin/chat/message/", {"q": "spam", "deleted": "no"})
    assert b"spam spam" in found.content
    assert admin_client.get(f"/admin/chat/message/{message.pk}/change/").status_code == 200
    response = admin_client.post(
        "/admin/chat/message/", {"action": "tombstone_messages", "_selected_action": [message.pk]}, follow=True
    )
    assert b"1 message(s) deleted" in response.content
    message.refresh_from_db()
    assert message.deleted_at is not None
    assert message.content == ""
    assert Message.objects.filter(pk=message.pk).exists(), "a tombstone, not a hard delete"


def test_the_admin_offers_no_hard_delete_of_messages(admin_client, message):
    page = admin_client.get("/admin/chat/message/").content.decode()
    assert "delete_selected" not in page
    assert admin_client.get(f"/admin/chat/message/{message.pk}/delete/").status_code == 403


def test_room_pages_show_members(admin_client, message):
    page = admin_client.get(f"/admin/chat/room/{message.room_id}/change/")
    assert page.status_code == 200
    assert b"alice" in page.content


def test_a_member_added_in_the_back_office_counts_the_history_as_unread(admin_client, message, carol):
    response = admin_client.post(
        "/admin/chat/membership/add/",
        {"room": message.room_id, "user": carol.pk, "role": "member", "notification_level": "all"},
    )
    assert response.status_code == 302, response.content[:500]
    membership = selectors.membership_for(room_id=message.room_id, user=carol)
    assert membership.unread_count == selectors.unread_count(membership=membership) == 1
