"""Gateway webhooks (gateways → FastSock): delivery reports and inbound messages.

Each request is checked before anything is read from it: the connector exists and is enabled,
the source address is in its allowlist, the URL's signature is right (and a DLR URL has not
expired). Anything else gets 401/403 in the API's error shape and changes nothing.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
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


@csrf_exempt
@require_http_methods(["GET", "POST"])
def sms_inbound(request: HttpRequest, connector: str) -> HttpResponse:
    """An inbound SMS (Jasmin's HTTP client connector POSTs, Kannel's sms-service GETs)."""
    from .gateways.base import InvalidCallback
    from .inbound import sms_receive

    try:
        found = _connector(connector)
        webhooks.check_source(found, client_ip("", request))
        webhooks.check_signature(found, "inbound", request.GET.dict())
        form = request.POST if request.method == "POST" else request.GET
        gateway = services.gateway_for(found, for_callbacks=True)
        inbound = gateway.parse_mo(form)
    except ApiError as error:
        return _refusal(error)
    except InvalidCallback as error:
        return _refusal(ApiError(ErrorCode.INVALID, str(error)))
    sms_receive(connector=found, inbound=inbound)
    status, body = gateway.mo_ack()
    return HttpResponse(body, status=status, content_type="text/plain")
