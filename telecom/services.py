"""Writes of the telecom app: projects and keys, and accepting messages to send."""

from __future__ import annotations

import os
import random
import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from fastsock.core.errors import ApiError, ErrorCode, invalid_field

from . import encoding, keys, mms, webhooks
from .models import ApiKey, Connector, DeadLetter, PhoneNumber, Project, ProjectMember, SmsMessage

E164 = re.compile(r"^\+[1-9]\d{1,14}$")


@transaction.atomic
def project_create(*, owner: User, name: Any) -> Project:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise invalid_field("name", "A name of 1 to 100 characters.")
    project = Project.objects.create(name=name.strip())
    ProjectMember.objects.create(project=project, user=owner, role=ProjectMember.Role.OWNER)
    return project


def api_key_create(*, project: Project, actor: User, name: Any, scopes: Any = None) -> tuple[ApiKey, str]:
    """A new key for the project; returns it with the key itself, which is never shown again."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise invalid_field("name", "A name of 1 to 100 characters.")
    scopes = list(ApiKey.Scope.values) if scopes is None else scopes
    if not isinstance(scopes, list) or not scopes or any(scope not in ApiKey.Scope.values for scope in scopes):
        raise invalid_field("scopes", f"A list of: {', '.join(ApiKey.Scope.values)}.")
    key, prefix = keys.new_key()
    api_key = ApiKey.objects.create(
        project=project, name=name.strip(), prefix=prefix, key_hash=keys.key_hash(key), scopes=scopes, created_by=actor
    )
    return api_key, key


def api_key_revoke(*, project: Project, key_id: Any) -> None:
    revoked = ApiKey.objects.filter(project=project, pk=key_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not revoked and not ApiKey.objects.filter(project=project, pk=key_id).exists():
        raise ApiError(ErrorCode.NOT_FOUND, "No such key.")


def _e164(value: Any, field: str) -> str:
    if not isinstance(value, str) or not E164.match(value):
        raise invalid_field(field, "A phone number in E.164 form, like +14155550123.")
    return value


def _http_url(value: Any, field: str) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 500:
        raise invalid_field(field, "An http(s) URL of at most 500 characters.")
    return value


def _sender_number(project: Project, from_: Any) -> PhoneNumber:
    numbers = PhoneNumber.objects.filter(project=project, sms=True)
    if from_ is None:
        number = numbers.order_by("id").first()
        if number is None:
            raise invalid_field("from", "This project has no number that sends SMS yet.")
        return number
    number = numbers.filter(e164=_e164(from_, "from")).first()
    if number is None:
        raise invalid_field("from", "Not one of this project's SMS numbers.")
    return number


def _segment_limit(number: PhoneNumber) -> int:
    """The strictest multi-part limit among the gateways that may send for this number."""
    limits = [c.max_segments for c in number.connectors.filter(enabled=True).exclude(kind=Connector.Kind.ASTERISK)]
    return min(limits) if limits else settings.TELECOM_MAX_SEGMENTS


def sms_accept(
    *,
    project: Project,
    api_key: ApiKey | None,
    to: Any,
    body: Any,
    from_: Any = None,
    media_urls: Any = None,
    status_callback: Any = None,
) -> SmsMessage:
    """Check and store an outbound message as ``queued``; sending happens in the background."""
    to = _e164(to, "to")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise invalid_field("body", "Must be a string.")
    media = mms.media_urls_check(media_urls)
    if not body and not media:
        raise invalid_field("body", "A message needs a body or media.")
    if len(body) > settings.TELECOM_MAX_BODY_CHARACTERS:
        raise invalid_field("body", f"At most {settings.TELECOM_MAX_BODY_CHARACTERS} characters.")
    callback = _http_url(status_callback, "status_callback") if status_callback not in (None, "") else ""
    number = _sender_number(project, from_)
    # Both gateways send SMS only: the media go as links in the text, which is what is counted.
    info = encoding.encode_info(mms.text_with_links(body, media))
    try:
        encoding.check_segments(info, max_segments=_segment_limit(number))
    except encoding.TooManySegments as error:
        fields = ("body", "media_urls") if media else ("body",)
        raise ApiError(ErrorCode.TOO_LARGE, str(error), details={field: [str(error)] for field in fields}) from None
    message = SmsMessage.objects.create(
        project=project,
        api_key=api_key,
        direction=SmsMessage.Direction.OUTBOUND_API,
        from_number=number.e164,
        to_number=to,
        body=body,
        media_urls=media,
        encoding=info.encoding,
        segments=info.segments,
        status_callback=callback,
    )
    enqueue_send(message)
    return message


# --- Sending (Celery) ------------------------------------------------------------------------------


def gateway_for(connector: Connector, *, for_callbacks: bool = False) -> Any:
    """The adapter for a connector, with its credentials read from the environment now.

    Reading a gateway's callbacks takes no credentials: ``for_callbacks`` makes an adapter that
    only parses and acknowledges, so reports are understood even where the send credentials are
    not configured (another process sends).
    """
    from .gateways.jasmin import JasminGateway

    username = os.environ.get(connector.username_env, "") if connector.username_env else ""
    password = os.environ.get(connector.password_env, "") if connector.password_env else ""
    if for_callbacks:
        username, password = username or "unused", password or "unused"
    if connector.kind == Connector.Kind.JASMIN:
        return JasminGateway(base_url=connector.base_url, username=username, password=password)
    if connector.kind == Connector.Kind.KANNEL:
        from .gateways.kannel import KannelGateway

        return KannelGateway(base_url=connector.base_url, username=username, password=password)
    raise ValueError(f"{connector.kind} connectors do not send SMS")


def _connectors_for(message: SmsMessage) -> list[Connector]:
    """The gateways that may send for the sender's number, best first: healthy ones by priority,
    then the unhealthy (a health mark can be stale; trying beats giving up)."""
    usable = list(
        Connector.objects.filter(numbers__e164=message.from_number, numbers__project_id=message.project_id)
        .filter(enabled=True)
        .exclude(kind=Connector.Kind.ASTERISK)
        .order_by("priority", "id")
    )
    return [c for c in usable if c.healthy] + [c for c in usable if not c.healthy]


def _within_throughput(connector: Connector) -> bool:
    """Count one send against the connector's messages-per-second limit (shared by all workers
    through the cache); False when this second's share is used up."""
    if not connector.throughput_per_second:
        return True
    from django.core.cache import cache

    from fastsock.core.cache import count_attempts

    key = f"telecom:throughput:{connector.pk}:{int(time.time())}"
    [count] = count_attempts(cache, [key], timeout=2)
    return count <= connector.throughput_per_second


def _retry_delay(attempts: int) -> float:
    """Exponential backoff with full jitter, capped."""
    base = settings.TELECOM_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    return random.uniform(0, min(settings.TELECOM_RETRY_MAX_SECONDS, base))  # noqa: S311 - jitter, not secrets


def _claim(message_id: int) -> bool:
    """``queued → sending`` for one worker only: a task that runs twice never sends twice."""
    now = timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    return bool(
        SmsMessage.objects.filter(due, pk=message_id, status=SmsMessage.Status.QUEUED).update(
            status=SmsMessage.Status.SENDING, attempts=F("attempts") + 1, updated_at=now
        )
    )


def sms_send_attempt(*, message_id: int) -> str:
    """One attempt at sending: fail over across the number's gateways on transport errors, give
    up at once on a refusal, retry later with backoff, dead-letter after the last attempt.
    Returns what happened: ``skipped``, ``sent``, ``failed``, ``retry``, ``dead``."""
    from .gateways.base import GatewayRejected, GatewayTransportError, SendRequest

    if not _claim(message_id):
        return "skipped"
    message = SmsMessage.objects.get(pk=message_id)
    transport_errors: list[str] = []
    throttled = False
    for connector in _connectors_for(message):
        if not _within_throughput(connector):
            throttled = True
            continue
        try:
            request = SendRequest(
                to=message.to_number,
                from_=message.from_number,
                body=message.body,
                encoding=message.encoding,
                dlr_url=webhooks.dlr_url(connector, message.sid),
                message_sid=message.sid,
                media_urls=tuple(message.media_urls),
            )
        except webhooks.WebhookRefused:
            # Without its webhook secret a connector cannot sign the report URL: use another.
            transport_errors.append(f"{connector.name}: its webhook secret ({connector.webhook_secret_env}) is not set")
            Connector.objects.filter(pk=connector.pk).update(last_error=transport_errors[-1][:300])
            continue
        try:
            result = gateway_for(connector).send(request)
        except GatewayTransportError as error:
            transport_errors.append(str(error))
            Connector.objects.filter(pk=connector.pk).update(
                healthy=False, last_error=str(error)[:300], health_checked_at=timezone.now()
            )
            continue
        except GatewayRejected as error:
            _move(
                message, SmsMessage.Status.FAILED, error_code=f"gateway_{error.code}", error_message=error.reason[:300]
            )
            return "failed"
        if not connector.healthy:
            Connector.objects.filter(pk=connector.pk).update(
                healthy=True, last_error="", health_checked_at=timezone.now()
            )
        gateway = {"connector": connector, "provider_message_id": result.provider_message_id}
        if not _move(message, SmsMessage.Status.SENT, record=gateway):
            # A report overtook the worker (the gateway calls back as soon as the SMSC answers) and
            # moved the message on already: keep which gateway took it, and its id, all the same.
            SmsMessage.objects.filter(pk=message.pk).update(**gateway)
        return "sent"
    if throttled and not transport_errors:
        # Every gateway is at its throughput limit: try again in a moment; it is not a failure.
        SmsMessage.objects.filter(pk=message.pk, status=SmsMessage.Status.SENDING).update(
            status=SmsMessage.Status.QUEUED,
            attempts=F("attempts") - 1,
            next_attempt_at=timezone.now() + timedelta(seconds=1),
        )
        return "retry"
    reason = "; ".join(transport_errors) or "No enabled gateway sends for this number."
    if not transport_errors:
        _move(message, SmsMessage.Status.FAILED, error_code="no_route", error_message=reason[:300])
        return "failed"
    if message.attempts >= settings.TELECOM_MAX_ATTEMPTS:
        _move(message, SmsMessage.Status.FAILED, error_code="gateway_unreachable", error_message=reason[:300])
        DeadLetter.objects.create(message=message, reason=reason[:300])
        return "dead"
    due = timezone.now() + timedelta(seconds=_retry_delay(message.attempts))
    SmsMessage.objects.filter(pk=message.pk, status=SmsMessage.Status.SENDING).update(
        status=SmsMessage.Status.QUEUED, next_attempt_at=due, error_message=reason[:300]
    )
    return "retry"


# Statuses only move forward; a late or repeated report never moves one back.
_RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3}


def _move(
    message: SmsMessage,
    status: str,
    *,
    error_code: str = "",
    error_message: str = "",
    record: dict[str, Any] | None = None,
) -> bool:
    """Move a message to ``status`` if that is forward, writing ``record``'s fields with it in the
    same statement; announce the move to the project's callback."""
    earlier = [s for s, rank in _RANK.items() if rank < _RANK[status]]
    now = timezone.now()
    changes: dict[str, Any] = {"status": status, "updated_at": now, **(record or {})}
    if error_code:
        changes.update(error_code=error_code, error_message=error_message)
    if status == SmsMessage.Status.SENT:
        changes["sent_at"] = now
    if status in (SmsMessage.Status.DELIVERED, SmsMessage.Status.UNDELIVERED):
        # The handset's receipt can overtake the worker's own "sent" (which then changes nothing):
        # the message went out all the same, and usage counts it by its sending time.
        changes["sent_at"] = Coalesce(F("sent_at"), Value(now))
    if status == SmsMessage.Status.DELIVERED:
        changes["delivered_at"] = now
    moved = SmsMessage.objects.filter(pk=message.pk, status__in=earlier).update(**changes)
    if moved and message.status_callback:
        from .tasks import status_callback

        sid = message.sid
        transaction.on_commit(lambda: status_callback.delay(sid, status))
    return bool(moved)


def sms_replay_dead_letter(*, dead_letter: DeadLetter) -> SmsMessage:
    """An operator sends a dead-lettered message again: back to ``queued``, attempts reset.

    Only once per dead letter, and only while its message is still ``failed``: an old dead
    letter of a message that went out since must not send it again.
    """
    with transaction.atomic():
        locked = DeadLetter.objects.select_for_update().filter(pk=dead_letter.pk, replayed_at__isnull=True).first()
        message = SmsMessage.objects.select_for_update().get(pk=dead_letter.message_id)
        if locked is None or message.status != SmsMessage.Status.FAILED:
            raise ApiError(ErrorCode.CONFLICT, "Already replayed, or the message is no longer failed.")
        SmsMessage.objects.filter(pk=dead_letter.message_id).update(
            status=SmsMessage.Status.QUEUED, attempts=0, next_attempt_at=None, error_code="", error_message=""
        )
        DeadLetter.objects.filter(pk=dead_letter.pk).update(replayed_at=timezone.now())
        message = SmsMessage.objects.get(pk=dead_letter.message_id)
        enqueue_send(message)
    return message


def enqueue_send(message: SmsMessage) -> None:
    """Hand the message to a worker after commit. If that is lost (a process died in between),
    ``sms_sweep`` finds it still ``queued`` and enqueues it again."""
    from .tasks import send_sms

    message_id = message.pk
    transaction.on_commit(lambda: send_sms.delay(message_id))


def sms_sweep(*, now: Any = None) -> dict[str, int]:
    """Re-enqueue queued messages that are due (lost hand-offs, retries whose time came), and
    fail those stuck in ``sending`` past the limit: a worker died mid-send, and it cannot be told
    whether the gateway took it; an operator may replay them from the dead letters."""
    now = now or timezone.now()
    due = SmsMessage.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        status=SmsMessage.Status.QUEUED,
        updated_at__lte=now - timedelta(seconds=settings.TELECOM_REQUEUE_AFTER_SECONDS),
    ).values_list("pk", flat=True)[:1000]
    from .tasks import send_sms

    requeued = 0
    for message_id in due:
        send_sms.delay(message_id)
        requeued += 1
    stuck = SmsMessage.objects.filter(
        status=SmsMessage.Status.SENDING,
        updated_at__lte=now - timedelta(seconds=settings.TELECOM_SENDING_STUCK_SECONDS),
    )
    lost = 0
    for message in stuck[:1000]:
        with transaction.atomic():
            if _move(
                message,
                SmsMessage.Status.FAILED,
                error_code="lost_in_transit",
                error_message="A worker stopped mid-send.",
            ):
                DeadLetter.objects.create(
                    message=message, reason="A worker stopped while sending; it may or may not have gone out."
                )
                lost += 1
    return {"requeued": requeued, "lost": lost}


def sms_apply_report(*, message: SmsMessage, status: str, error_code: str | None) -> bool:
    """A gateway's delivery report: the status moves forward only (a late "sent" after
    "delivered", or a repeat, changes nothing)."""
    code = f"dlr_{error_code}" if error_code and status in ("undelivered", "failed") else ""
    return _move(message, status, error_code=code, error_message=f"The network reported {status}." if code else "")


# --- Usage -------------------------------------------------------------------------------------------


def usage_aggregate(*, day: Any) -> int:
    """Recount one day's usage per project from the messages and calls themselves (and overwrite
    it), so the counters are exact however often a send was retried or this runs. Returns the rows."""
    from django.db.models import Count, Sum

    from .models import UsageDaily

    sent = [SmsMessage.Status.SENT, SmsMessage.Status.DELIVERED, SmsMessage.Status.UNDELIVERED]
    outbound = (
        SmsMessage.objects.filter(sent_at__date=day, status__in=sent)
        .exclude(direction=SmsMessage.Direction.INBOUND)
        .values("project_id")
        .annotate(segments=Sum("segments"), mms=Count("id", filter=~Q(media_urls=[])))
    )
    # An inbound MMS counts as one even when none of its media could be fetched (its sid says MMS).
    inbound = (
        SmsMessage.objects.filter(created_at__date=day, direction=SmsMessage.Direction.INBOUND)
        .values("project_id")
        .annotate(segments=Sum("segments"), mms=Count("id", filter=Q(sid__startswith="MM")))
    )
    totals: dict[int, dict[str, int]] = {}
    for row in outbound:
        totals.setdefault(row["project_id"], {}).update(sms_segments_out=row["segments"] or 0, mms_out=row["mms"])
    for row in inbound:
        totals.setdefault(row["project_id"], {}).update(sms_segments_in=row["segments"] or 0, mms_in=row["mms"])
    from .voice import call_seconds_by_project

    for project_id, seconds in call_seconds_by_project(day=day).items():
        totals.setdefault(project_id, {})["call_seconds"] = seconds
    for project_id, counts in totals.items():
        defaults = {"sms_segments_out": 0, "sms_segments_in": 0, "mms_out": 0, "mms_in": 0, "call_seconds": 0, **counts}
        UsageDaily.objects.update_or_create(project_id=project_id, day=day, defaults=defaults)
    return len(totals)
