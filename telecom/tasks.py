"""Celery tasks of the telecom app: thin, they call a service and own their retries."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from celery import shared_task
from django.conf import settings

from chat.payloads import iso


@shared_task(name="telecom.send_sms", acks_late=True)
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


@shared_task(name="telecom.status_callback", bind=True, max_retries=8, acks_late=True)
def status_callback(self, sid: str, status: str) -> int:  # type: ignore[no-untyped-def]
    """POST the message's new status to the project's ``status_callback``, Stripe-signed."""
    from . import keys
    from .models import SmsMessage

    message = SmsMessage.objects.select_related("project").filter(sid=sid).first()
    if message is None or not message.status_callback:
        return 0
    body = json.dumps(
        {
            "type": "message.status",
            "sid": message.sid,
            "status": status,
            "to": message.to_number,
            "from": message.from_number,
            "error_code": message.error_code or None,
            "date_updated": iso(message.updated_at),
        },
        separators=(",", ":"),
    ).encode()
    timestamp = int(time.time())
    secret = keys.signing_secret(message.project_id, message.project.signing_generation)
    signature = keys.stripe_signature(secret, timestamp, body)
    request = urllib.request.Request(  # noqa: S310 - an http(s) URL checked when the message was made
        message.status_callback,
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
        raise self.retry(countdown=min(3600, 2**self.request.retries * 10)) from None


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
    """Probe every enabled SMS gateway so that one marked unhealthy comes back once it answers."""
    from .health import connectors_check_health
    from .models import Connector

    results = connectors_check_health(Connector.objects.filter(enabled=True).exclude(kind=Connector.Kind.ASTERISK))
    return sum(1 for _, healthy in results if healthy)
