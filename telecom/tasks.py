"""Celery tasks of the telecom app: thin, they call a service and own their retries."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from celery import shared_task
from django.conf import settings

from chat.payloads import iso


# The per-message tasks store no result: nothing reads one, and with a result backend every
# enqueue from a request thread (a new thread per request under Daphne) would open a Redis
# connection of its own and subscribe to the task's result channel, and every run would write it.
@shared_task(name="telecom.send_sms", acks_late=True, ignore_result=True)
def send_sms(message_id: int) -> str:
    from .models import SmsMessage
    from .services import sms_send_attempt

    outcome = sms_send_attempt(message_id=message_id)
    if outcome == "retry":
        message = SmsMessage.objects.get(pk=message_id)
        delay = max(0.0, (message.next_attempt_at.timestamp() - time.time())) if message.next_attempt_at else 0.0
        send_sms.apply_async((message_id,), countdown=delay)
    return outcome


@shared_task(name="telecom.sms_sweep")
def sms_sweep() -> dict[str, int]:
    from .services import sms_sweep as sweep

    return sweep()


def _post_signed(task, url: str, project_id: int, generation: int, payload: dict) -> int:  # type: ignore[no-untyped-def]
    """POST ``payload`` to a project's callback URL, Stripe-signed; retry the task on failure."""
    from . import keys

    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    signature = keys.stripe_signature(keys.signing_secret(project_id, generation), timestamp, body)
    request = urllib.request.Request(  # noqa: S310 - an http(s) URL checked when the resource was made
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "FastSock-Signature": f"t={timestamp},v1={signature}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.TELECOM_CALLBACK_TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status
    except (urllib.error.URLError, OSError) as error:
        status_code = getattr(error, "code", None)
        if status_code is not None and 400 <= status_code < 500 and status_code not in (408, 429):
            return status_code  # the receiver refuses it for good
        raise task.retry(countdown=min(3600, 2**task.request.retries * 10)) from None


@shared_task(name="telecom.status_callback", bind=True, max_retries=8, acks_late=True, ignore_result=True)
def status_callback(self, sid: str, status: str) -> int:  # type: ignore[no-untyped-def]
    """POST the message's new status to the project's ``status_callback``, Stripe-signed."""
    from .models import SmsMessage

    message = SmsMessage.objects.select_related("project").filter(sid=sid).first()
    if message is None or not message.status_callback:
        return 0
    payload = {
        "type": "message.status",
        "sid": message.sid,
        "status": status,
        "to": message.to_number,
        "from": message.from_number,
        "error_code": message.error_code or None,
        "date_updated": iso(message.updated_at),
    }
    return _post_signed(self, message.status_callback, message.project_id, message.project.signing_generation, payload)


@shared_task(name="telecom.call_status_callback", bind=True, max_retries=8, acks_late=True)
def call_status_callback(self, sid: str, status: str) -> int:  # type: ignore[no-untyped-def]
    """POST a call's new status to its ``status_callback``, signed like the messages' ones."""
    from .models import VoiceCall

    call = VoiceCall.objects.select_related("project").filter(sid=sid).first()
    if call is None or not call.status_callback:
        return 0
    payload = {
        "type": "call.status",
        "sid": call.sid,
        "status": status,
        "direction": call.direction,
        "to": call.to_number,
        "from": call.from_number,
        "duration": call.duration_seconds,
        "hangup_cause": call.hangup_cause,
        "error_code": call.error_code or None,
        "date_updated": iso(call.updated_at),
    }
    return _post_signed(self, call.status_callback, call.project_id, call.project.signing_generation, payload)


@shared_task(name="telecom.originate_call", acks_late=True)
def originate_call(call_id: int) -> str:
    """Originate an outbound call through ARI (idempotent: see voice.originate_attempt)."""
    from .voice import originate_attempt

    return originate_attempt(call_id=call_id)


@shared_task(name="telecom.usage_aggregate")
def usage_aggregate() -> int:
    """Recount today's and yesterday's usage (late delivery reports land on yesterday too)."""
    from datetime import timedelta

    from django.utils import timezone

    from .services import usage_aggregate as aggregate

    today = timezone.now().date()
    return aggregate(day=today) + aggregate(day=today - timedelta(days=1))


@shared_task(name="telecom.check_connectors")
def check_connectors() -> int:
    """Probe every enabled SMS gateway and Asterisk trunk, so one marked unhealthy comes back
    once it answers."""
    from .health import connectors_check_health, trunks_check_health
    from .models import Connector

    enabled = Connector.objects.filter(enabled=True)
    results = connectors_check_health(enabled.exclude(kind=Connector.Kind.ASTERISK))
    results += trunks_check_health(enabled.filter(kind=Connector.Kind.ASTERISK))
    return sum(1 for _, healthy in results if healthy)


@shared_task(name="telecom.idempotency_prune")
def idempotency_prune() -> int:
    from .idempotency import idempotency_prune as prune

    return prune()
