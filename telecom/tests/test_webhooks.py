"""Delivery reports by webhook: verified, stored once, statuses forward only, callbacks signed."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from django.test import Client, TestCase, override_settings

from telecom import keys, webhooks
from telecom.models import Connector, PhoneNumber, Project, ProviderEvent, SmsMessage
from tests.sms_gateways import CallbackRecorder

pytestmark = pytest.mark.django_db


@pytest.fixture
def connector(monkeypatch):
    monkeypatch.setenv("GW_SECRET", "a-long-enough-webhook-secret")
    return Connector.objects.create(
        name="gw1", kind="jasmin", base_url="http://127.0.0.1:9", webhook_secret_env="GW_SECRET",
        allowed_networks=["127.0.0.1/32"],
    )  # fmt: skip


@pytest.fixture
def message(connector):
    project = Project.objects.create(name="Shop")
    PhoneNumber.objects.create(e164="+14155550100", project=project).connectors.add(connector)
    return SmsMessage.objects.create(
        project=project, direction="outbound-api", from_number="+14155550100", to_number="+14155550123", body="hi",
        status="sent", connector=connector, provider_message_id="jid-1",
    )  # fmt: skip


def dlr_path(connector, message) -> str:
    url = urlsplit(webhooks.dlr_url(connector, message.sid))
    return f"{url.path}?{url.query}"


def report(path, status="DELIVRD", level="2", source="127.0.0.1", message_id="jid-1"):
    form = {"id": message_id, "message_status": status, "level": level}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return Client(REMOTE_ADDR=source).post(path, form)


def test_a_signed_report_delivers_the_message_and_jasmin_gets_its_ack(connector, message):
    response = report(dlr_path(connector, message))
    assert response.status_code == 200
    assert response.content == b"ACK/Jasmin"
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.delivered_at is not None


def test_repeated_and_late_reports_never_double_count_or_move_back(connector, message):
    path = dlr_path(connector, message)
    report(path)
    report(path)  # the gateway retries the same report
    report(path, status="ESME_ROK", level="1")  # the submit ack arrives last
    message.refresh_from_db()
    assert message.status == "delivered"
    assert ProviderEvent.objects.filter(message=message).count() == 2  # one per distinct report


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda path: path.replace("sig=", "sig=00"), 401),  # forged
        (lambda path: path.split("&sig=")[0], 401),  # unsigned
        (lambda path: path.replace("sid=SM", "sid=SMff"), 401),  # signed for another message
    ],
)
def test_forged_or_unsigned_reports_are_refused_and_change_nothing(connector, message, change, status):
    response = report(change(dlr_path(connector, message)))
    assert response.status_code == status
    assert response.json()["error"]["code"] == "not_authenticated"
    message.refresh_from_db()
    assert message.status == "sent"
    assert not ProviderEvent.objects.exists()


def test_reports_from_outside_the_allowlist_are_refused(connector, message):
    assert report(dlr_path(connector, message), source="10.1.2.3").status_code == 403
    message.refresh_from_db()
    assert message.status == "sent"


def test_a_forged_forwarded_for_does_not_pass_the_allowlist_behind_a_proxy(connector, message):
    path = dlr_path(connector, message)
    proxied = override_settings(RATELIMIT_IP_META_KEY="HTTP_X_FORWARDED_FOR", TRUSTED_PROXY_HOPS=1)
    with proxied, TestCase.captureOnCommitCallbacks(execute=True):
        # The caller claims 127.0.0.1; our proxy appended the address it really came from.
        refused = Client(HTTP_X_FORWARDED_FOR="127.0.0.1, 10.1.2.3").post(
            path, {"id": "jid-1", "message_status": "DELIVRD", "level": "2"}
        )
    assert refused.status_code == 403
    message.refresh_from_db()
    assert message.status == "sent"


def test_a_report_for_another_providers_id_is_stored_but_not_applied(connector, message):
    report(dlr_path(connector, message), message_id="someone-else")
    message.refresh_from_db()
    assert message.status == "sent"


def test_an_undelivered_report_says_so_with_a_code(connector, message):
    report(dlr_path(connector, message), status="UNDELIV")
    message.refresh_from_db()
    assert message.status == "undelivered"


def test_status_changes_reach_the_projects_callback_signed_like_stripe(connector, message, settings):
    receiver = CallbackRecorder(lambda _path: (204, ""))
    try:
        SmsMessage.objects.filter(pk=message.pk).update(status_callback=f"{receiver.base_url}/cb")
        report(dlr_path(connector, message))
    finally:
        receiver.close()
    [callback] = receiver.received
    body = callback.body
    assert json.loads(body)["status"] == "delivered"
    parts = dict(part.split("=", 1) for part in callback.headers["fastsock-signature"].split(","))
    secret = keys.signing_secret(message.project_id, message.project.signing_generation)
    assert parts["v1"] == keys.stripe_signature(secret, int(parts["t"]), body)


def test_a_report_that_comes_before_the_gateway_id_was_stored_is_still_applied(connector, message):
    SmsMessage.objects.filter(pk=message.pk).update(provider_message_id="")
    report(dlr_path(connector, message), message_id="jid-early")
    message.refresh_from_db()
    assert message.status == "delivered"


def test_raw_fields_with_nul_bytes_are_stored_safely():
    from telecom.gateways.base import plain_fields

    assert plain_fields({"coding": "\x00", "content": "hi"}) == {"coding": "\\0", "content": "hi"}
