"""Calls endpoints: one view per operation, rules in services, selectors and ``calls.turn``."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import events, selectors, turn
from fastsock.core.ratelimit import rate_limit_user


class IceServerOutput(serializers.Serializer):
    urls = serializers.ListField(child=serializers.CharField(), help_text="`stun:`, `turn:` or `turns:` URLs")
    username = serializers.CharField(required=False, help_text="TURN only: `<expiry>:<user id>`")
    credential = serializers.CharField(required=False, help_text="TURN only: base64 HMAC-SHA1 of the username")


class IceServersOutput(serializers.Serializer):
    ice_servers = IceServerOutput(many=True, help_text="pass as `new RTCPeerConnection({iceServers})`")
    ttl = serializers.IntegerField(help_text="seconds the TURN credentials stay valid; fetch again before then")


class IceServersApi(APIView):
    @extend_schema(responses=IceServersOutput)
    def get(self, request: Request) -> Response:
        """STUN and TURN servers for the caller's next call, with time-limited TURN credentials."""
        rate_limit_user(user_id=request.user.pk, action="calls.ice.user")
        data = {"ice_servers": turn.ice_servers_for(request.user), "ttl": settings.TURN_CREDENTIAL_TTL}
        response = Response(IceServersOutput(data).data)
        # The credentials are per user and short-lived: no browser or proxy may keep them.
        response["Cache-Control"] = "no-store"
        return response


class CallHistoryInput(serializers.Serializer):
    room_id = serializers.IntegerField(required=False, min_value=1, help_text="only this room (members only)")
    before = serializers.IntegerField(required=False, min_value=1, help_text="calls older than this call id")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=50)


class CallHistoryApi(APIView):
    @extend_schema(parameters=[CallHistoryInput], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        """Call history, newest first: one room's calls (members only) or all of the caller's,
        each with its outcome, duration and timeline."""
        params = CallHistoryInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        values = params.validated_data
        calls, has_more = selectors.call_history(
            user=request.user, room_id=values.get("room_id"), before=values.get("before"), limit=values["limit"]
        )
        results = [events.call_payload(call, timeline=list(call.events.all())) for call in calls]
        return Response({"results": results, "has_more": has_more, "next": calls[-1].pk if has_more else None})
