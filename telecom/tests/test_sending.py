"""Sending through the gateways: failover, refusals, retries with backoff, dead letters, the
sweeper, and never twice. The gateway here is a stand-in speaking Jasmin's HTTP API on
127.0.0.1 (the real gateways are driven in tests/test_sms_gateways.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from telecom import services
from telecom.models import Connector, DeadLetter, PhoneNumber, Project, SmsMessage
from telecom.tests.stand_ins import JasminStandIn

pytestmark = pytest.mark.django_db


@pytest.fixture
def gateways(monkeypatch) -> Iterator[list[JasminStandIn]]:
    monkeypatch.setenv("GW_SECRET", "a-long-enough-webhook-secret")
    monkeypatch.setenv("GW_USER", "fastsock")
    monkeypatch.setenv("GW_PASSWORD", "hunter2-password")
    running = [JasminStandIn(), JasminStandIn()]
    yield running
    for gateway in running:
        gateway.close()


@pytest.fixture
def message(gateways, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # drive the attempts by hand here
    project = Project.objects.create(name="Shop")
    number = PhoneNumber.objects.create(e164="+14155550100", project=project)
    for priority, gateway in enumerate(gateways, start=1):
        number.connectors.add(
            Connector.objects.create(
                name=f"gw{priority}", kind="jasmin", base_url=gateway.url, priority=priority,
                username_env="GW_USER", password_env="GW_PASSWORD", webhook_secret_env="GW_SECRET",
            )
        )  # fmt: skip
    return SmsMessage.objects.create(
        project=project, direction="outbound-api", from_number="+14155550100", to_number="+14155550123", body="hi"
    )


def test_a_message_goes_out_through_the_first_gateway_with_a_signed_dlr_url(gateways, message):
    assert services.sms_send_attempt(message_id=message.pk) == "sent"
    message.refresh_from_db()
    assert (message.status, message.provider_message_id, message.connector.name) == ("sent", "1", "gw1")
    [params] = gateways[0].sent
    assert (params["to"], params["from"], params["content"]) == ("+14155550123", "+14155550100", "hi")
    assert f"sid={message.sid}" in params["dlr-url"]
    assert "sig=" in params["dlr-url"]
    assert gateways[1].sent == []


def test_a_task_that_runs_twice_sends_once(gateways, message):
    assert services.sms_send_attempt(message_id=message.pk) == "sent"
    assert services.sms_send_attempt(message_id=message.pk) == "skipped"
    assert len(gateways[0].sent) == 1


def test_a_gateway_that_is_down_fails_over_to_the_next_and_is_marked_unhealthy(gateways, message):
    gateways[0].close()
    assert services.sms_send_attempt(message_id=message.pk) == "sent"
    message.refresh_from_db()
    assert message.connector.name == "gw2"
    assert Connector.objects.get(name="gw1").healthy is False
    assert len(gateways[1].sent) == 1


def test_a_refusal_fails_the_message_at_once_without_trying_elsewhere(gateways, message):
    gateways[0].answer = (403, 'Error "Authentication failure for username:fastsock"')
    assert services.sms_send_attempt(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "gateway_403")
    assert "hunter2" not in message.error_message
    assert gateways[1].sent == []


def test_all_gateways_down_retries_with_backoff_then_dead_letters(gateways, message, settings):
    settings.TELECOM_MAX_ATTEMPTS = 3
    for gateway in gateways:
        gateway.close()
    assert services.sms_send_attempt(message_id=message.pk) == "retry"
    message.refresh_from_db()
    assert message.status == "queued"
    assert message.next_attempt_at > timezone.now() - timedelta(seconds=1)
    assert services.sms_send_attempt(message_id=message.pk) in ("skipped", "retry")  # not due yet, or due at once
    for _ in range(5):
        SmsMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
        if services.sms_send_attempt(message_id=message.pk) == "dead":
            break
    message.refresh_from_db()
    assert (message.status, message.error_code, message.attempts) == ("failed", "gateway_unreachable", 3)
    dead = DeadLetter.objects.get(message=message)
    assert "unreachable" in dead.reason


def test_a_dead_letter_replayed_by_an_operator_goes_out(gateways, message, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    SmsMessage.objects.filter(pk=message.pk).update(status="failed", attempts=6)
    dead = DeadLetter.objects.create(message=message, reason="down")
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        services.sms_replay_dead_letter(dead_letter=dead)
    message.refresh_from_db()
    assert message.status == "sent"
    dead.refresh_from_db()
    assert dead.replayed_at is not None


def test_the_sweeper_requeues_lost_hand_offs_and_fails_messages_stuck_mid_send(gateways, message, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    long_ago = timezone.now() - timedelta(hours=1)
    SmsMessage.objects.filter(pk=message.pk).update(updated_at=long_ago)
    stuck = SmsMessage.objects.create(
        project=message.project, direction="outbound-api", from_number="+14155550100", to_number="+1415555", body="x"
    )
    SmsMessage.objects.filter(pk=stuck.pk).update(status="sending", updated_at=long_ago)
    result = services.sms_sweep()
    assert result == {"requeued": 1, "lost": 1}
    message.refresh_from_db()
    stuck.refresh_from_db()
    assert message.status == "sent"
    assert (stuck.status, stuck.error_code) == ("failed", "lost_in_transit")
    assert DeadLetter.objects.filter(message=stuck).exists()


def test_a_gateway_at_its_throughput_limit_is_skipped_for_the_next_one(gateways, message):
    Connector.objects.filter(name="gw1").update(throughput_per_second=1)
    second = SmsMessage.objects.create(
        project=message.project, direction="outbound-api", from_number="+14155550100", to_number="+1415555", body="b"
    )
    assert services.sms_send_attempt(message_id=message.pk) == "sent"
    assert services.sms_send_attempt(message_id=second.pk) == "sent"
    used = {SmsMessage.objects.get(pk=pk).connector.name for pk in (message.pk, second.pk)}
    # Both in the same second unless the clock ticked between them; then gw1 takes both.
    assert used in ({"gw1", "gw2"}, {"gw1"})


def test_when_every_gateway_is_at_its_limit_the_message_waits_without_using_an_attempt(gateways, message):
    Connector.objects.update(throughput_per_second=1)
    import time

    from django.core.cache import cache

    for connector in Connector.objects.all():
        cache.set(f"telecom:throughput:{connector.pk}:{int(time.time())}", 5, 2)
        cache.set(f"telecom:throughput:{connector.pk}:{int(time.time()) + 1}", 5, 2)
    assert services.sms_send_attempt(message_id=message.pk) == "retry"
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("queued", 0)
    assert gateways[0].sent == gateways[1].sent == []


def test_a_connector_without_its_webhook_secret_is_passed_over_with_a_clear_reason(gateways, message, monkeypatch):
    Connector.objects.filter(name="gw1").update(webhook_secret_env="NOT_SET_ANYWHERE")
    assert services.sms_send_attempt(message_id=message.pk) == "sent"
    message.refresh_from_db()
    assert message.connector.name == "gw2"
    assert "NOT_SET_ANYWHERE" in Connector.objects.get(name="gw1").last_error


def test_a_dead_letter_is_replayed_once_and_only_while_its_message_failed(gateways, message, settings):
    from fastsock.core.errors import ApiError

    SmsMessage.objects.filter(pk=message.pk).update(status="sent")
    dead = DeadLetter.objects.create(message=message, reason="old")
    with pytest.raises(ApiError):
        services.sms_replay_dead_letter(dead_letter=dead)
    assert gateways[0].sent == []


def test_the_periodic_probe_brings_a_gateway_back_once_it_answers(gateways, message):
    from telecom.tasks import check_connectors

    Connector.objects.update(healthy=False)
    gateways[1].close()  # gw1 still answers Jasmin's PONG
    assert check_connectors() == 1
    assert dict(Connector.objects.values_list("name", "healthy")) == {"gw1": True, "gw2": False}
