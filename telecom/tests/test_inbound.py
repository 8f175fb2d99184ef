"""Inbound SMS by webhook: verified, stored once, routed into chat; replies go back as SMS."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client, TestCase

from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.models import Message
from telecom import webhooks
from telecom.models import Connector, InboundRoute, PhoneNumber, Project, SmsConversation, SmsMessage

pytestmark = pytest.mark.django_db
OURS, PHONE = "+14155550100", "+4915112345678"
PHONE_AS_JASMIN_SENDS_IT = PHONE.lstrip("+")


@pytest.fixture
def connector(monkeypatch):
    monkeypatch.setenv("GW_SECRET", "a-long-enough-webhook-secret")
    return Connector.objects.create(
        name="gw1", kind="jasmin", base_url="http://127.0.0.1:9", webhook_secret_env="GW_SECRET",
        allowed_networks=["127.0.0.1/32"],
    )  # fmt: skip


@pytest.fixture
def number(connector):
    project = Project.objects.create(name="Shop")
    number = PhoneNumber.objects.create(e164=OURS, project=project)
    number.connectors.add(connector)
    return number


def inbound(
    connector, *, body="Hello there", message_id="mo-1", sender=PHONE_AS_JASMIN_SENDS_IT, source="127.0.0.1", sig=None
):
    url = urlsplit(webhooks.fixed_url(connector, "inbound"))
    query = url.query if sig is None else f"sig={sig}"
    form = {"id": message_id, "from": sender, "to": OURS.lstrip("+"), "content": body, "coding": "0"}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return Client(REMOTE_ADDR=source).post(f"{url.path}?{query}", form)


def test_an_sms_to_a_persons_number_opens_a_conversation_room_where_it_counts_as_unread(connector, number, alice):
    InboundRoute.objects.create(project=number.project, match="number", pattern=OURS, target_user=alice)
    response = inbound(connector)
    assert (response.status_code, response.content) == (200, b"ACK/Jasmin")
    conversation = SmsConversation.objects.get()
    assert (conversation.our_number, conversation.their_number) == (OURS, PHONE)
    message = Message.objects.get(room=conversation.room, type="sms")
    assert message.content == "Hello there"
    assert message.sender.name == PHONE
    assert message.sender.is_active is False  # the phone's stand-in cannot log in
    membership = chat_selectors.membership_for(room_id=conversation.room_id, user=alice)
    assert membership.unread_count == 1
    stored = SmsMessage.objects.get(direction="inbound")
    assert (stored.status, stored.from_number, stored.room_id) == ("received", PHONE, conversation.room_id)
    inbound(connector, body="Second", message_id="mo-2")
    assert SmsConversation.objects.count() == 1
    assert Message.objects.filter(room=conversation.room, type="sms").count() == 2


def test_the_same_inbound_message_twice_is_stored_once(connector, number, alice):
    InboundRoute.objects.create(project=number.project, match="number", pattern=OURS, target_user=alice)
    inbound(connector)
    inbound(connector)
    assert SmsMessage.objects.filter(direction="inbound").count() == 1
    assert Message.objects.filter(type="sms").count() == 1


def test_routes_by_keyword_and_into_a_room(connector, number, alice, bob):
    team = chat_services.room_create_group(creator=alice, name="Support", member_ids=[bob.pk])
    InboundRoute.objects.create(project=number.project, match="keyword", pattern="HELP", target_room=team, priority=1)
    inbound(connector, body="help my order is late")
    assert Message.objects.get(type="sms").room_id == team.pk
    assert chat_selectors.membership_for(room_id=team.pk, user=bob).unread_count == 1


def test_a_message_no_route_takes_is_kept_for_the_admin(connector, number):
    inbound(connector, body="anyone?")
    kept = SmsMessage.objects.get(direction="inbound")
    assert kept.room is None
    assert not Message.objects.filter(type="sms").exists()


@pytest.mark.parametrize(("kwargs", "status"), [({"sig": "00" * 32}, 401), ({"source": "192.0.2.7"}, 403)])
def test_forged_or_foreign_inbound_webhooks_are_refused(connector, number, alice, kwargs, status):
    InboundRoute.objects.create(project=number.project, match="number", pattern=OURS, target_user=alice)
    assert inbound(connector, **kwargs).status_code == status
    assert not SmsMessage.objects.exists()


def test_a_member_replying_in_the_conversation_sends_an_sms_back(connector, number, alice, settings):
    InboundRoute.objects.create(project=number.project, match="number", pattern=OURS, target_user=alice)
    inbound(connector)
    room = SmsConversation.objects.get().room
    membership = chat_selectors.membership_for(room_id=room.pk, user=alice)
    with TestCase.captureOnCommitCallbacks(execute=True):
        reply, _ = chat_services.message_send(membership=membership, content="Thanks, on its way!")
    sms = SmsMessage.objects.get(direction="outbound-reply")
    assert (sms.from_number, sms.to_number, sms.body, sms.chat_message_id) == (
        OURS,
        PHONE,
        "Thanks, on its way!",
        reply.pk,
    )
    # A message in an ordinary room sends nothing.
    other = chat_services.room_create_group(creator=alice, name="Plain")
    with TestCase.captureOnCommitCallbacks(execute=True):
        chat_services.message_send(membership=chat_selectors.membership_for(room_id=other.pk, user=alice), content="x")
    assert SmsMessage.objects.filter(direction="outbound-reply").count() == 1
