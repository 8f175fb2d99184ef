"""Delivery reports that overtake the worker: a gateway calls back as soon as the SMSC answers,
often before the worker that sent the message is back from the gateway's HTTP API."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client, TestCase
from django.utils import timezone

from telecom import services
from telecom.gateways.base import SendResult
from telecom.models import Connector, PhoneNumber, Project, SmsMessage, UsageDaily

pytestmark = pytest.mark.django_db

RECEIPT = "id:1 sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:{stat} err:000 text:x"
# Kannel's report types: 8 the SMSC took it ("sent"), 1 delivered, 2 not delivered.
REPORTS = {"sent": ("8", "ACK/"), "delivered": ("1", RECEIPT.format(stat="DELIVRD"))}
REPORTS["undelivered"] = ("2", RECEIPT.format(stat="UNDELIV"))


class GatewayThatReportsAtOnce:
    """Takes the message and, before answering the worker, sends the report ``status``."""

    def __init__(self, status: str) -> None:
        self.status = status

    def send(self, request) -> SendResult:
        kannel_type, reply = REPORTS[self.status]
        url = urlsplit(request.dlr_url)
        fields = urlencode({"kannel_ref": request.message_sid, "kannel_type": kannel_type, "kannel_reply": reply})
        with TestCase.captureOnCommitCallbacks(execute=True):
            answer = Client(REMOTE_ADDR="127.0.0.1").get(f"{url.path}?{url.query}&{fields}")
        assert answer.status_code == 200, answer.content
        return SendResult(provider_message_id=request.message_sid, raw="0: Accepted for delivery")


@pytest.fixture
def message(monkeypatch, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the attempt is driven by hand
    monkeypatch.setenv("KANNEL_SECRET", "a-long-enough-webhook-secret")
    project = Project.objects.create(name="Shop")
    connector = Connector.objects.create(
        name="kannel-1", kind="kannel", base_url="http://127.0.0.1:9", webhook_secret_env="KANNEL_SECRET",
        allowed_networks=["127.0.0.1/32"],
    )  # fmt: skip
    PhoneNumber.objects.create(e164="+14155550100", project=project).connectors.add(connector)
    return SmsMessage.objects.create(
        project=project, direction="outbound-api", from_number="+14155550100", to_number="+14155550123",
        body="hi", segments=1,
    )  # fmt: skip


def send_with_report_first(monkeypatch, message: SmsMessage, status: str) -> SmsMessage:
    sending = services.gateway_for

    def gateway_for(connector, *, for_callbacks=False):
        return sending(connector, for_callbacks=True) if for_callbacks else GatewayThatReportsAtOnce(status)

    monkeypatch.setattr(services, "gateway_for", gateway_for)
    assert services.sms_send_attempt(message_id=message.pk) == "sent"
    message.refresh_from_db()
    return message


@pytest.mark.parametrize("status", ["sent", "delivered", "undelivered"])
def test_a_report_that_overtakes_the_worker_is_kept_with_the_gateway_that_took_the_message(
    monkeypatch, message, status
):
    message = send_with_report_first(monkeypatch, message, status)
    assert message.status == status
    assert (message.connector.name, message.provider_message_id) == ("kannel-1", message.sid)
    assert message.sent_at is not None


def test_a_message_delivered_before_the_worker_said_sent_counts_in_usage(monkeypatch, message):
    message = send_with_report_first(monkeypatch, message, "delivered")
    services.usage_aggregate(day=timezone.now().date())
    usage = UsageDaily.objects.get(project=message.project_id)
    assert usage.sms_segments_out == 1


def test_the_worker_records_the_gateway_and_sent_in_one_write(monkeypatch, message, django_assert_num_queries):
    class Accepting:
        def send(self, request) -> SendResult:
            return SendResult(provider_message_id="gw-42", raw="ok")

    monkeypatch.setattr(services, "gateway_for", lambda connector, **_: Accepting())
    # Claim it, read it, read its gateways, then one write: the gateway, its id and "sent".
    with django_assert_num_queries(4):
        assert services.sms_send_attempt(message_id=message.pk) == "sent"
    message.refresh_from_db()
    assert (message.status, message.provider_message_id, message.connector.name) == ("sent", "gw-42", "kannel-1")
    assert message.sent_at is not None
