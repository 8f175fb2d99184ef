"""Gateway webhooks (gateways → FastSock): delivery reports and inbound messages.

Each request is checked before anything is read from it: the connector exists and is enabled,
the source address is in its allowlist, the URL's signature is right (and a DLR URL has not
expired). Anything else gets 401/403 in the API's error shape and changes nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from fastsock.core.errors import ApiError, ErrorCode
from fastsock.core.ratelimit import client_ip

from . import services, webhooks
from .models import Connector, ProviderEvent, SmsMessage


def _refusal(error: ApiError) -> JsonResponse:
    return JsonResponse(error.as_payload(), status=error.status)


def _connector(name: str) -> Connector:
    connector = Connector.objects.filter(name=name, enabled=True).first()
    if connector is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such connector.")
    return connector


@csrf_exempt
@require_http_methods(["GET", "POST"])
def sms_dlr(request: HttpRequest, connector: str) -> HttpResponse:
    """A delivery report: stored once per provider event, and moves its message forward only."""
    from .gateways.base import InvalidCallback

    try:
        found = _connector(connector)
        webhooks.check_source(found, client_ip("", request))
        sid = webhooks.check_signature(found, "dlr", request.GET.dict())
        form = request.POST if request.method == "POST" else request.GET
        gateway = services.gateway_for(found, for_callbacks=True)
        report = gateway.parse_dlr(form)
    except ApiError as error:
        return _refusal(error)
    except InvalidCallback as error:
        return _refusal(ApiError(ErrorCode.INVALID, str(error)))
    message = SmsMessage.objects.filter(sid=sid).first()
    try:
        with transaction.atomic():
            ProviderEvent.objects.create(
                connector=found,
                kind="dlr",
                provider_event_id=report.event_id,
                message=message,
                status=report.status,
                raw=dict(report.raw),
            )
            # The signed URL proves the sid; a report may also come before the worker stored the
            # gateway's id (Jasmin answers fast), which must not lose it.
            if message is not None and (
                report.provider_message_id in (message.provider_message_id, message.sid)
                or not message.provider_message_id
            ):
                services.sms_apply_report(message=message, status=report.status, error_code=report.error_code)
    except IntegrityError:
        pass  # the same report again: already applied once
    status, body = gateway.dlr_ack()
    return HttpResponse(body, status=status, content_type="text/plain")


def _media_parts_too_large() -> ApiError:
    message = (
        f"The callback's media parts are larger than the upload limit of {settings.UPLOAD_MAX_BYTES} bytes in all."
    )
    return ApiError(ErrorCode.TOO_LARGE, message, details={"media": [message]})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def sms_inbound(request: HttpRequest, connector: str) -> HttpResponse:
    """An inbound SMS (Jasmin's HTTP client connector POSTs, Kannel's sms-service GETs), or an
    MMS with media as links (``media_url``, ``MediaUrl0``…) or multipart file parts."""
    from chat.api.uploads import UploadLimitHandler

    from .gateways.base import InvalidCallback
    from .inbound import sms_receive

    # Before the body is read: media parts stream to disk, together within the upload limit (as
    # `manage.py serve` limits any request body), so a gateway's MMS is held like one upload.
    parts_limit = UploadLimitHandler(request, max_bytes=settings.UPLOAD_MAX_BYTES)
    request.upload_handlers.insert(0, parts_limit)
    try:
        found = _connector(connector)
        webhooks.check_source(found, client_ip("", request))
        webhooks.check_signature(found, "inbound", request.GET.dict())
        try:
            form = request.POST if request.method == "POST" else request.GET
        except ApiError:
            raise _media_parts_too_large() from None
        except MultiPartParserError:
            raise ApiError(ErrorCode.MALFORMED_REQUEST, "The multipart body could not be read.") from None
        if parts_limit.exceeded:
            raise _media_parts_too_large()
        gateway = services.gateway_for(found, for_callbacks=True)
        inbound = gateway.parse_mo(form)
    except ApiError as error:
        return _refusal(error)
    except InvalidCallback as error:
        return _refusal(ApiError(ErrorCode.INVALID, str(error)))
    files = [part for name in request.FILES for part in request.FILES.getlist(name)]
    sms_receive(connector=found, inbound=inbound, files=files)
    status, body = gateway.mo_ack()
    return HttpResponse(body, status=status, content_type="text/plain")


CALL_EVENTS = ("ringing", "answered", "hangup")


@csrf_exempt
@require_http_methods(["POST"])
def call_events(request: HttpRequest, connector: str) -> HttpResponse:
    """A call event from a trunk or a dialplan hook (``ringing``, ``answered``, ``hangup``), JSON
    or form: ``{"id", "call_sid" | "channel_id", "event", "cause"?}``. Stored once per ``id``;
    applied forward only, so it can confirm or complete what the orchestrator saw, never undo it."""
    import json

    from . import voice
    from .models import VoiceCall

    try:
        found = _connector(connector)
        webhooks.check_source(found, client_ip("", request))
        webhooks.check_signature(found, "events", request.GET.dict())
        if request.content_type == "application/json":
            try:
                data = json.loads(request.body or b"null")
            except ValueError:
                raise ApiError(ErrorCode.MALFORMED_REQUEST, "The body is not valid JSON.") from None
        else:
            data = request.POST.dict()
        if not isinstance(data, dict):
            raise ApiError(ErrorCode.INVALID, "The body must be an object.")
        event_id, kind = str(data.get("id") or "")[:200], data.get("event")
        if not event_id or kind not in CALL_EVENTS:
            raise ApiError(
                ErrorCode.INVALID,
                f"An event needs an 'id' and an 'event' of {', '.join(CALL_EVENTS)}.",
                details={"event": ["required"]},
            )
        cause = data.get("cause")
        if cause is not None and (not str(cause).isdigit() or int(cause) > 127):
            raise ApiError(ErrorCode.INVALID, "'cause' is a Q.850 cause code.", details={"cause": ["invalid"]})
    except ApiError as error:
        return _refusal(error)
    reference = str(data.get("call_sid") or data.get("channel_id") or "")
    call = (
        VoiceCall.objects.filter(project__numbers__connectors=found)
        .filter(Q(sid=reference) | Q(channel_id=reference))
        .distinct()
        .first()
        if reference
        else None
    )
    try:
        with transaction.atomic():
            ProviderEvent.objects.create(
                connector=found, kind="call", provider_event_id=event_id, status=kind,
                raw={key: str(value)[:500] for key, value in data.items()},
            )  # fmt: skip
    except IntegrityError:
        return JsonResponse({"status": "duplicate"})
    if call is not None:
        voice.call_event_add(call_id=call.pk, kind="status", data={"provider_event": kind, "id": event_id})
        if kind == "ringing":
            voice.call_ringing(call_id=call.pk)
        elif kind == "hangup":
            voice.call_finish(call_id=call.pk, cause=int(cause) if cause is not None else None)
    return JsonResponse({"status": "applied" if call is not None else "stored"})
