"""``/v1/calls``: place an outbound call running a flow, list calls, read one with its timeline."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from chat.payloads import iso
from fastsock.core.errors import ApiError, ErrorCode
from fastsock.core.ratelimit import rate_limit
from telecom import selectors, voice
from telecom.idempotency import idempotent
from telecom.models import ApiKey, CallRecording, VoiceCall

from .views import V1View, list_filters, page_payload


def recording_payload(recording: CallRecording, request: Request) -> dict[str, Any]:
    return {
        "sid": recording.sid,
        "status": recording.status,
        "duration_seconds": recording.duration_seconds,
        "size_bytes": recording.size_bytes,
        "format": recording.format,
        "url": request.build_absolute_uri(
            reverse("v1-call-recording", kwargs={"sid": recording.call.sid, "recording_sid": recording.sid})
        )
        if recording.status == CallRecording.Status.STORED
        else None,
        "date_created": iso(recording.created_at),
    }


def call_payload(call: VoiceCall, request: Request, *, timeline: bool = False) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "sid": call.sid,
        "project_id": call.project_id,
        "direction": call.direction,
        "from": call.from_number,
        "to": call.to_number,
        "status": call.status,
        "flow_id": call.flow_version.flow_id if call.flow_version_id else None,
        "flow_version": call.flow_version.number if call.flow_version_id else None,
        "trunk": call.connector.name if call.connector_id else None,
        "duration": call.duration_seconds,
        "hangup_cause": call.hangup_cause,
        "hangup_cause_text": call.hangup_cause_text or None,
        "error_code": call.error_code or None,
        "error_message": call.error_message or None,
        "status_callback": call.status_callback or None,
        "date_created": iso(call.created_at),
        "date_updated": iso(call.updated_at),
        "start_time": iso(call.answered_at),
        "end_time": iso(call.ended_at),
    }
    if timeline:
        payload["events"] = [
            {"seq": event.seq, "kind": event.kind, "at": iso(event.at), "data": event.data}
            for event in call.events.order_by("seq")
        ]
        payload["recordings"] = [recording_payload(r, request) for r in call.recordings.select_related("call")]
    return payload


class CallsApi(V1View):
    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        """Place an outbound call that runs a flow (``flow_id``'s active version or an inline
        ``flow``): 201 ``queued`` at once; a worker originates it."""
        project, api_key = selectors.acting_project(request, scope=ApiKey.Scope.CALLS)
        if not isinstance(request.data, dict):
            raise ApiError(ErrorCode.INVALID, "The body must be a JSON object.")
        rate_limit(request, action="telecom.calls.project", key=lambda _g, _r: str(project.pk))
        if api_key is not None:
            rate_limit(request, action="telecom.calls.key", key=lambda _g, _r: str(api_key.pk))

        def accept() -> Response:
            call = voice.call_accept(
                project=project,
                api_key=api_key,
                to=request.data.get("to"),
                from_=request.data.get("from"),
                flow_id=request.data.get("flow_id"),
                flow=request.data.get("flow"),
                status_callback=request.data.get("status_callback"),
            )
            return Response(call_payload(call, request), status=status.HTTP_201_CREATED)

        return idempotent(request, project, accept)

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="v1_calls_list")
    def get(self, request: Request) -> Response:
        """The project's calls, newest first: ``?status=&to=&before=<sid>&limit=``."""
        project, _ = selectors.acting_project(request, scope=ApiKey.Scope.CALLS)
        page, has_more = selectors.call_list(project=project, **list_filters(request))
        return Response(page_payload([call_payload(c, request) for c in page], page, has_more))


class CallApi(V1View):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, sid: str) -> Response:
        """One call: its status, duration, timeline events and recordings."""
        project, _ = selectors.acting_project(request, scope=ApiKey.Scope.CALLS)
        return Response(call_payload(selectors.call_for(project=project, sid=sid), request, timeline=True))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT, operation_id="v1_calls_update")
    def post(self, request: Request, sid: str) -> Response:
        """End a call: ``{"status": "canceled"}`` while queued or ringing, ``{"status":
        "completed"}`` to hang up one in progress."""
        project, _ = selectors.acting_project(request, scope=ApiKey.Scope.CALLS)
        if not isinstance(request.data, dict):
            raise ApiError(ErrorCode.INVALID, "The body must be a JSON object.")
        call = voice.call_end_by_request(
            call=selectors.call_for(project=project, sid=sid), status=request.data.get("status")
        )
        return Response(call_payload(call, request, timeline=True))


class CallRecordingApi(V1View):
    @extend_schema(responses={(200, "audio/wav"): OpenApiTypes.BINARY})
    def get(self, request: Request, sid: str, recording_sid: str) -> Any:
        """A stored recording's audio (WAV), for the call's project only."""
        from django.http import FileResponse

        project, _ = selectors.acting_project(request, scope=ApiKey.Scope.CALLS)
        call = selectors.call_for(project=project, sid=sid)
        recording = call.recordings.filter(sid=recording_sid, status=CallRecording.Status.STORED).first()
        if recording is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No such recording.")
        return FileResponse(recording.file.open("rb"), content_type="audio/wav", filename=f"{recording.sid}.wav")
