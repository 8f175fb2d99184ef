"""Writes of the telecom app: projects and keys, and accepting messages to send."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from fastsock.core.errors import ApiError, ErrorCode, invalid_field

from . import encoding, keys
from .models import ApiKey, Connector, PhoneNumber, Project, ProjectMember, SmsMessage

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
MAX_MEDIA_URLS = 10


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
    media = [] if media_urls is None else media_urls
    if not isinstance(media, list) or len(media) > MAX_MEDIA_URLS:
        raise invalid_field("media_urls", f"A list of at most {MAX_MEDIA_URLS} URLs.")
    media = [_http_url(url, "media_urls") for url in media]
    if not body and not media:
        raise invalid_field("body", "A message needs a body or media.")
    if len(body) > settings.TELECOM_MAX_BODY_CHARACTERS:
        raise invalid_field("body", f"At most {settings.TELECOM_MAX_BODY_CHARACTERS} characters.")
    callback = _http_url(status_callback, "status_callback") if status_callback not in (None, "") else ""
    number = _sender_number(project, from_)
    info = encoding.encode_info(body)
    try:
        encoding.check_segments(info, max_segments=_segment_limit(number))
    except encoding.TooManySegments as error:
        raise ApiError(ErrorCode.TOO_LARGE, str(error), details={"body": [str(error)]}) from None
    return SmsMessage.objects.create(
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
