import pytest
from django.test import Client

from calls.models import Call
from chat import services as chat_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(make_user):
    client = Client()
    client.force_login(make_user("mod", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def call(alice, bob):
    room = chat_services.direct_room_get_or_create(user=alice, other=bob)[0]
    call = Call.objects.create(
        room=room, caller=alice, callee=bob, state=Call.State.ENDED, outcome="missed", caller_device="specific.secret!x"
    )
    call.events.create(kind="invited", user=alice, data={"media": "video"})
    return call


def test_the_call_list_and_a_call_with_its_timeline_open_without_internals(admin_client, call):
    listing = admin_client.get("/admin/calls/call/?q=alice")
    assert listing.status_code == 200
    assert b"missed" in listing.content
    page = admin_client.get(f"/admin/calls/call/{call.pk}/change/")
    assert page.status_code == 200
    assert b"invited" in page.content
    assert b"specific.secret" not in page.content, "device channel names stay internal"


def test_calls_cannot_be_added_or_edited_in_the_admin(admin_client, call):
    assert admin_client.get("/admin/calls/call/add/").status_code == 403
    admin_client.post(f"/admin/calls/call/{call.pk}/change/", {"state": "ringing"})
    call.refresh_from_db()
    assert call.state == Call.State.ENDED
