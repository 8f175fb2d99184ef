"""The telecom back office: every page opens, keys are shown once, connectors are checked and
validated, dead letters are replayed once, and records stay read-only. Gateways here are a
stand-in speaking Jasmin's HTTP API on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from types import SimpleNamespace

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework.test import APIClient

from chat import services as chat_services
from fastsock.core.testing import free_port
from telecom import keys, services
from telecom.models import (
    ApiKey,
    Connector,
    DeadLetter,
    IdempotencyRecord,
    InboundRoute,
    PhoneNumber,
    ProjectMember,
    ProviderEvent,
    SmsMessage,
    UsageDaily,
)
from telecom.tests.stand_ins import JasminStandIn

pytestmark = pytest.mark.django_db


@pytest.fixture
def jasmin() -> Iterator[JasminStandIn]:
    stand_in = JasminStandIn()
    yield stand_in
    stand_in.close()


@pytest.fixture
def moderator(make_user):
    return make_user("mod", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(moderator):
    client = Client()
    client.force_login(moderator)
    return client


@pytest.fixture
def data(alice, bob, monkeypatch):
    monkeypatch.setenv("GW_SECRET", "a-long-enough-webhook-secret")
    monkeypatch.setenv("GW_USER", "fastsock")
    monkeypatch.setenv("GW_PASSWORD", "hunter2-password")
    project = services.project_create(owner=alice, name="Shop")
    ProjectMember.objects.create(project=project, user=bob)
    api_key, _key = services.api_key_create(project=project, actor=alice, name="server")
    connector = Connector.objects.create(
        name="jasmin-1", kind="jasmin", base_url=f"http://127.0.0.1:{free_port()}",
        username_env="GW_USER", password_env="GW_PASSWORD", webhook_secret_env="GW_SECRET",
        allowed_networks=["10.0.0.0/8"],
    )  # fmt: skip
    number = PhoneNumber.objects.create(e164="+14155550100", project=project)
    number.connectors.add(connector)
    route = InboundRoute.objects.create(project=project, match="keyword", pattern="HELP", target_user=alice)
    message = SmsMessage.objects.create(
        project=project, direction="outbound-api", from_number="+14155550100", to_number="+14155550123",
        body="Your code is 1234", status="failed", error_code="gateway_unreachable", attempts=6,
    )  # fmt: skip
    event = ProviderEvent.objects.create(
        connector=connector, kind="dlr", provider_event_id="evt-77", message=message, status="sent"
    )
    dead_letter = DeadLetter.objects.create(message=message, reason="Jasmin at 127.0.0.1 is unreachable")
    usage = UsageDaily.objects.create(project=project, day=date(2026, 3, 1), sms_segments_out=7)
    record = IdempotencyRecord.objects.create(
        project=project, key="order-42", method="POST", path="/v1/messages", request_hash="0" * 64, status_code=201
    )
    return SimpleNamespace(
        project=project, api_key=api_key, connector=connector, number=number, route=route, message=message,
        event=event, dead_letter=dead_letter, usage=usage, record=record,
    )  # fmt: skip


def act(client: Client, model: str, action: str, *objects) -> str:
    response = client.post(
        f"/admin/telecom/{model}/", {"action": action, "_selected_action": [o.pk for o in objects]}, follow=True
    )
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("model", "query", "shown"),
    [
        ("project", "alice", "Shop"),
        ("apikey", "server", "fsk_"),
        ("connector", "jasmin", "jasmin-1"),
        ("phonenumber", "5550100", "+14155550100"),
        ("inboundroute", "HELP", "HELP"),
        ("smsmessage", "+14155550123", "+14155550123"),
        ("deadletter", "unreachable", "unreachable"),
        ("providerevent", "evt-77", "evt-77"),
        ("usagedaily", "Shop", "Shop"),
        ("idempotencyrecord", "order-42", "order-42"),
    ],
)
def test_every_telecom_list_page_opens_and_finds_its_rows(admin_client, data, model, query, shown):
    assert admin_client.get(f"/admin/telecom/{model}/").status_code == 200
    found = admin_client.get(f"/admin/telecom/{model}/", {"q": query})
    assert found.status_code == 200
    assert shown in found.content.decode()
    missed = admin_client.get(f"/admin/telecom/{model}/", {"q": "no-such-thing-anywhere"})
    assert shown not in missed.content.decode().split('id="result_list"')[-1]


@pytest.mark.parametrize(
    "name", ["project", "api_key", "connector", "number", "route", "message", "event", "dead_letter", "usage", "record"]
)
def test_every_telecom_record_page_opens(admin_client, data, name):
    obj = getattr(data, name)
    assert admin_client.get(f"/admin/telecom/{obj._meta.model_name}/{obj.pk}/change/").status_code == 200


def test_the_message_filters_narrow_by_status_and_direction(admin_client, data):
    failed = admin_client.get(
        "/admin/telecom/smsmessage/", {"status__exact": "failed", "direction__exact": "outbound-api"}
    )
    assert data.message.sid in failed.content.decode()
    delivered = admin_client.get("/admin/telecom/smsmessage/", {"status__exact": "delivered"})
    assert data.message.sid not in delivered.content.decode()


def test_a_key_made_in_the_back_office_is_shown_once_and_stored_only_as_a_hash(admin_client, data, moderator):
    url = f"/admin/telecom/project/{data.project.pk}/api-keys/new/"
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"name": "backend", "scopes": ["messages", "usage"]})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = re.search(r'value="(fsk_[^"]+)"', response.content.decode()).group(1)

    stored = ApiKey.objects.get(name="backend")
    assert (stored.scopes, stored.created_by, stored.key_hash) == (["messages", "usage"], moderator, keys.key_hash(key))
    assert key.startswith(stored.prefix)
    assert key not in str(list(ApiKey.objects.values()))
    assert key not in str([Session.objects.get(pk=s.pk).get_decoded() for s in Session.objects.all()])
    assert key not in str(list(LogEntry.objects.values()))
    assert APIClient().get("/v1/messages", HTTP_AUTHORIZATION=f"ApiKey {key}").status_code == 200

    project_page = admin_client.get(f"/admin/telecom/project/{data.project.pk}/change/").content.decode()
    assert stored.prefix in project_page
    for page in (project_page, admin_client.get(url), admin_client.get("/admin/telecom/apikey/")):
        assert key not in (page if isinstance(page, str) else page.content.decode())


def test_a_key_needs_a_name_and_a_scope(admin_client, data):
    response = admin_client.post(f"/admin/telecom/project/{data.project.pk}/api-keys/new/", {"name": " "})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not re.search(r'value="fsk_', response.content.decode())
    assert ApiKey.objects.count() == 1


def test_the_project_pages_never_show_the_signing_secret(admin_client, data):
    secret = keys.signing_secret(data.project.pk, data.project.signing_generation)
    for url in ("/admin/telecom/project/", f"/admin/telecom/project/{data.project.pk}/change/"):
        assert secret not in admin_client.get(url).content.decode()


def test_the_revoke_action_revokes_keys_that_then_stop_working(admin_client, data, alice):
    _api_key, key = services.api_key_create(project=data.project, actor=alice, name="old")
    old = ApiKey.objects.get(name="old")
    assert "Revoked 1 API key(s)" in act(admin_client, "apikey", "revoke_keys", old)
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert APIClient().get("/v1/messages", HTTP_AUTHORIZATION=f"ApiKey {key}").status_code == 401
    assert ApiKey.objects.get(name="server").revoked_at is None


def test_keys_are_revoked_not_deleted_or_edited(admin_client, data):
    assert admin_client.get(f"/admin/telecom/apikey/{data.api_key.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/telecom/apikey/add/").status_code == 403
    assert (
        data.api_key.key_hash
        not in admin_client.get(f"/admin/telecom/apikey/{data.api_key.pk}/change/").content.decode()
    )


def connector_form(**changes: str) -> dict[str, str]:
    return {
        "name": "kannel-1", "kind": "kannel", "base_url": "http://127.0.0.1:13013", "username_env": "KANNEL_USER",
        "password_env": "KANNEL_PASSWORD", "webhook_secret_env": "KANNEL_WEBHOOK_SECRET",
        "allowed_networks": "10.0.0.0/8", "priority": "10", "throughput_per_second": "0", "max_segments": "10",
        "enabled": "on", "circuit_override": "auto", **changes,
    }  # fmt: skip


def test_a_connector_with_a_bad_network_is_refused(admin_client, data):
    response = admin_client.post(
        "/admin/telecom/connector/add/", connector_form(allowed_networks="10.0.0.0/8\n10.0.0/33")
    )
    assert response.status_code == 200
    assert "Not a network" in response.content.decode()
    assert not Connector.objects.filter(name="kannel-1").exists()


def test_a_connector_keeps_its_networks_as_a_list(admin_client, data):
    response = admin_client.post(
        "/admin/telecom/connector/add/", connector_form(allowed_networks="10.0.0.0/8, 127.0.0.1\n2001:db8::/32")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Connector.objects.get(name="kannel-1").allowed_networks == ["10.0.0.0/8", "127.0.0.1", "2001:db8::/32"]
    page = admin_client.get(f"/admin/telecom/connector/{Connector.objects.get(name='kannel-1').pk}/change/")
    assert "10.0.0.0/8\n127.0.0.1\n2001:db8::/32" in page.content.decode()


def test_connector_credentials_are_names_of_variables_not_values(admin_client, data):
    assert "never saved" in admin_client.get("/admin/telecom/connector/add/").content.decode()
    response = admin_client.post("/admin/telecom/connector/add/", connector_form(password_env="hunter2 pass!"))
    assert "not its value" in response.content.decode()
    assert not Connector.objects.filter(name="kannel-1").exists()


def test_check_health_marks_a_closed_port_unhealthy_and_a_pinging_jasmin_healthy(admin_client, data, jasmin):
    down = data.connector  # points at a closed port on 127.0.0.1
    up = Connector.objects.create(
        name="jasmin-2", kind="jasmin", base_url=jasmin.url, webhook_secret_env="GW_SECRET", healthy=False,
        last_error="old trouble",
    )  # fmt: skip
    page = act(admin_client, "connector", "check_health", down, up)
    assert "1 of 2 healthy" in page
    assert "Not answering: jasmin-1" in page
    down.refresh_from_db()
    up.refresh_from_db()
    assert (down.healthy, bool(down.last_error), down.health_checked_at is not None) == (False, True, True)
    assert (up.healthy, up.last_error, up.health_checked_at is not None) == (True, "", True)


def test_connectors_can_be_disabled_and_enabled(admin_client, data):
    assert "Disabled 1 connector(s)" in act(admin_client, "connector", "disable", data.connector)
    data.connector.refresh_from_db()
    assert data.connector.enabled is False
    act(admin_client, "connector", "enable", data.connector)
    data.connector.refresh_from_db()
    assert data.connector.enabled is True


def test_replaying_a_dead_letter_sends_the_message_again_once(
    admin_client, data, jasmin, django_capture_on_commit_callbacks
):
    Connector.objects.filter(pk=data.connector.pk).update(base_url=jasmin.url)
    with django_capture_on_commit_callbacks(execute=True):
        page = act(admin_client, "deadletter", "replay", data.dead_letter)
    assert "Replayed 1 message(s)" in page
    data.message.refresh_from_db()
    data.dead_letter.refresh_from_db()
    assert (data.message.status, data.message.provider_message_id, data.message.error_code) == ("sent", "1", "")
    assert data.dead_letter.replayed_at is not None
    assert [sent["to"] for sent in jasmin.sent] == ["+14155550123"]

    with django_capture_on_commit_callbacks(execute=True):
        again = act(admin_client, "deadletter", "replay", data.dead_letter)
    assert "Skipped 1 already replayed" in again
    assert len(jasmin.sent) == 1


def test_a_dead_letter_of_a_message_no_longer_failed_is_not_replayed(admin_client, data):
    SmsMessage.objects.filter(pk=data.message.pk).update(status="sent")
    assert "Skipped 1" in act(admin_client, "deadletter", "replay", data.dead_letter)
    data.dead_letter.refresh_from_db()
    assert data.dead_letter.replayed_at is None


def test_messages_cannot_be_added_changed_or_deleted_in_the_admin(admin_client, data):
    assert admin_client.get("/admin/telecom/smsmessage/add/").status_code == 403
    url = f"/admin/telecom/smsmessage/{data.message.pk}/"
    assert admin_client.post(f"{url}change/", {"status": "delivered", "body": "changed"}).status_code == 403
    assert admin_client.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    data.message.refresh_from_db()
    assert (data.message.status, data.message.body) == ("failed", "Your code is 1234")
    assert "delete_selected" not in admin_client.get("/admin/telecom/smsmessage/").content.decode()


def test_a_message_page_shows_its_gateway_reports_and_dead_letters(admin_client, data):
    page = admin_client.get(f"/admin/telecom/smsmessage/{data.message.pk}/change/").content.decode()
    assert "evt-77" in page
    assert "Jasmin at 127.0.0.1 is unreachable" in page


def test_an_inbound_route_needs_exactly_one_target(admin_client, data, alice):
    room = chat_services.room_create_group(creator=alice, name="Support", member_ids=[])
    form = {"project": data.project.pk, "match": "keyword", "pattern": "STOP", "priority": "10"}
    for targets in ({}, {"target_user": alice.pk, "target_room": room.pk}):
        response = admin_client.post("/admin/telecom/inboundroute/add/", {**form, **targets})
        assert "exactly one target" in response.content.decode()
    assert admin_client.post("/admin/telecom/inboundroute/add/", {**form, "target_room": room.pk}).status_code == 302
    assert InboundRoute.objects.get(pattern="STOP").target_room == room


def test_a_number_must_be_e164(admin_client, data):
    form = {"project": data.project.pk, "e164": "4155550199", "connectors": [data.connector.pk], "sms": "on"}
    assert "E.164" in admin_client.post("/admin/telecom/phonenumber/add/", form).content.decode()
    assert admin_client.post("/admin/telecom/phonenumber/add/", {**form, "e164": "+14155550199"}).status_code == 302
    assert list(PhoneNumber.objects.get(e164="+14155550199").connectors.all()) == [data.connector]
