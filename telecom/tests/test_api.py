"""The /v1 telecom API: projects and keys, and accepting messages with idempotency and limits."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from fastsock.core.testing import api_client_for
from telecom import keys
from telecom.models import ApiKey, Connector, PhoneNumber, SmsMessage

pytestmark = pytest.mark.django_db

NUMBER = "+14155550100"


@pytest.fixture
def project(alice):
    response = api_client_for(alice).post("/v1/projects", {"name": "Shop"}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    number = PhoneNumber.objects.create(e164=NUMBER, project_id=data["id"])
    connector = Connector.objects.create(
        name="jasmin-1", kind="jasmin", base_url="http://127.0.0.1:1401", webhook_secret_env="X"
    )
    number.connectors.add(connector)
    return data


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"ApiKey {key}")
    return client


@pytest.fixture
def api_key(alice, project):
    response = api_client_for(alice).post(f"/v1/projects/{project['id']}/keys", {"name": "server"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def send(client, body, **headers):
    return client.post("/v1/messages", body, format="json", **headers)


def test_a_key_is_shown_once_and_stored_only_as_a_hash(alice, project, api_key):
    stored = ApiKey.objects.get(pk=api_key["id"])
    assert api_key["key"].startswith(api_key["prefix"])
    assert stored.key_hash == keys.key_hash(api_key["key"])
    assert api_key["key"] not in str(ApiKey.objects.filter(pk=stored.pk).values().get())
    listed = api_client_for(alice).get(f"/v1/projects/{project['id']}/keys").json()["results"]
    assert listed[0]["prefix"] == api_key["prefix"]
    assert "key" not in listed[0]


def test_a_message_is_accepted_queued_with_its_encoding_and_segments(project, api_key):
    response = send(key_client(api_key["key"]), {"to": "+14155550123", "body": "Your code is 1234"})
    assert response.status_code == 201, response.content
    message = response.json()
    assert message["status"] == "queued"
    assert message["sid"].startswith("SM")
    assert len(message["sid"]) == 34
    assert (message["from"], message["encoding"], message["segments"]) == (NUMBER, "GSM-7", 1)
    unicode = send(key_client(api_key["key"]), {"to": "+14155550123", "body": "Grüße 👋" * 20}).json()
    assert (unicode["encoding"], unicode["segments"]) == ("UCS-2", 3)
    assert key_client(api_key["key"]).get(f"/v1/messages/{message['sid']}").json()["sid"] == message["sid"]


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"to": "0155 555", "body": "x"}, "to", 400),
        ({"to": "+14155550123"}, "body", 400),
        ({"to": "+14155550123", "body": 5}, "body", 400),
        ({"to": "+14155550123", "body": "x", "from": "+19999999999"}, "from", 400),
        ({"to": "+14155550123", "body": "x", "media_urls": ["ftp://x"]}, "media_urls", 400),
        ({"to": "+14155550123", "body": "x", "status_callback": "javascript:alert(1)"}, "status_callback", 400),
        ({"to": "+14155550123", "body": "x" * 1601}, "body", 400),
        ({"to": "+14155550123", "body": "€" * 1000}, "body", 413),
    ],
)
def test_bad_messages_are_refused_naming_the_field_and_nothing_is_stored(project, api_key, body, field, status):
    response = send(key_client(api_key["key"]), body)
    assert response.status_code == status, response.content
    assert field in response.json()["error"]["details"]
    assert not SmsMessage.objects.exists()


def test_the_same_idempotency_key_and_body_get_the_first_answer_another_body_409(project, api_key):
    client = key_client(api_key["key"])
    first = send(client, {"to": "+14155550123", "body": "hello"}, HTTP_IDEMPOTENCY_KEY="order-1")
    again = send(client, {"to": "+14155550123", "body": "hello"}, HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["sid"] == first.json()["sid"]
    assert again["Idempotent-Replayed"] == "true"
    other = send(client, {"to": "+14155550123", "body": "changed"}, HTTP_IDEMPOTENCY_KEY="order-1")
    assert other.status_code == 409
    assert SmsMessage.objects.count() == 1
    refused = send(client, {"to": "bad"}, HTTP_IDEMPOTENCY_KEY="order-2")
    assert send(client, {"to": "bad"}, HTTP_IDEMPOTENCY_KEY="order-2").json() == refused.json()


def test_idempotency_keys_are_forgotten_after_the_retention_window(project, api_key, settings):
    from datetime import timedelta

    from django.utils import timezone

    from telecom.models import IdempotencyRecord
    from telecom.tasks import idempotency_prune

    settings.TELECOM_IDEMPOTENCY_TTL_HOURS = 24
    client = key_client(api_key["key"])
    first = send(client, {"to": "+14155550123", "body": "hello"}, HTTP_IDEMPOTENCY_KEY="order-1")
    send(client, {"to": "+14155550123", "body": "hello"}, HTTP_IDEMPOTENCY_KEY="order-2")
    IdempotencyRecord.objects.filter(key="order-1").update(created_at=timezone.now() - timedelta(hours=25))

    assert idempotency_prune.delay().get() == 1

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["order-2"]
    # Forgotten: the same key now makes a new message, as with Stripe after 24 hours.
    again = send(client, {"to": "+14155550123", "body": "hello"}, HTTP_IDEMPOTENCY_KEY="order-1")
    assert again.status_code == 201
    assert again.json()["sid"] != first.json()["sid"]
    assert not again.has_header("Idempotent-Replayed")


def test_sends_are_rate_limited_per_key_with_retry_after(project, api_key, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "telecom.messages.key": "2/m"}
    client = key_client(api_key["key"])
    for _ in range(2):
        assert send(client, {"to": "+14155550123", "body": "x"}).status_code == 201
    limited = send(client, {"to": "+14155550123", "body": "x"})
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1


def test_a_revoked_or_made_up_key_is_refused(alice, project, api_key):
    assert send(key_client("fsk_deadbeef_" + "x" * 43), {"to": "+14155550123", "body": "x"}).status_code == 401
    assert api_client_for(alice).delete(f"/v1/projects/{project['id']}/keys/{api_key['id']}").status_code == 204
    assert send(key_client(api_key["key"]), {"to": "+14155550123", "body": "x"}).status_code == 401


def test_keys_act_only_for_their_project_and_within_their_scopes(alice, bob, project, api_key):
    sid = send(key_client(api_key["key"]), {"to": "+14155550123", "body": "x"}).json()["sid"]
    other = api_client_for(bob).post("/v1/projects", {"name": "Other"}, format="json").json()
    other_key = api_client_for(bob).post(f"/v1/projects/{other['id']}/keys", {"name": "k"}, format="json").json()
    assert key_client(other_key["key"]).get(f"/v1/messages/{sid}").status_code == 404
    usage_only = (
        api_client_for(alice)
        .post(f"/v1/projects/{project['id']}/keys", {"name": "usage", "scopes": ["usage"]}, format="json")
        .json()
    )
    assert send(key_client(usage_only["key"]), {"to": "+14155550123", "body": "x"}).status_code == 403
    # Keys cannot manage projects or keys: that takes a person.
    assert key_client(api_key["key"]).post("/v1/projects", {"name": "x"}, format="json").status_code == 403


def test_a_person_names_the_project_when_they_have_several(alice, project):
    api_client_for(alice).post("/v1/projects", {"name": "Second"}, format="json")
    client = api_client_for(alice)
    assert send(client, {"to": "+14155550123", "body": "x"}).status_code == 400
    named = send(client, {"to": "+14155550123", "body": "x"}, HTTP_FASTSOCK_PROJECT=str(project["id"]))
    assert named.status_code == 201, named.content


def test_only_owners_manage_keys_and_others_do_not_see_the_project(bob, project):
    assert api_client_for(bob).get(f"/v1/projects/{project['id']}").status_code == 404
    assert (
        api_client_for(bob).post(f"/v1/projects/{project['id']}/keys", {"name": "x"}, format="json").status_code == 404
    )


def test_messages_list_filters_by_status_and_pages(project, api_key):
    client = key_client(api_key["key"])
    sids = [send(client, {"to": "+14155550123", "body": str(n)}).json()["sid"] for n in range(3)]
    SmsMessage.objects.filter(sid=sids[0]).update(status="delivered")
    assert [m["sid"] for m in client.get("/v1/messages?status=delivered").json()["results"]] == [sids[0]]
    first = client.get("/v1/messages?limit=2").json()
    assert first["has_more"] is True
    rest = client.get(f"/v1/messages?limit=2&before={first['next']}").json()
    assert [m["sid"] for m in first["results"] + rest["results"]] == sids[::-1]


def test_usage_counts_sent_segments_once_however_often_it_is_recounted(alice, project, api_key):
    from django.utils import timezone

    from telecom.services import usage_aggregate

    client = key_client(api_key["key"])
    sids = [send(client, {"to": "+14155550123", "body": body}).json()["sid"] for body in ("hi", "€" * 100, "x")]
    SmsMessage.objects.filter(sid__in=sids[:2]).update(status="delivered", sent_at=timezone.now())
    for _ in range(3):
        usage_aggregate(day=timezone.now().date())
    [today] = client.get("/v1/usage").json()["results"]
    assert (today["sms_segments_out"], today["sms_segments_in"], today["mms_out"]) == (1 + 2, 0, 0)
    assert client.get("/v1/usage?from=2026-13-01").status_code == 400
