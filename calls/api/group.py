"""Group calls: join (a seat and a Janus token) and leave. The rules live in ``calls.group``."""

from __future__ import annotations

from django.conf import settings
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import group, turn
from fastsock.core.ratelimit import rate_limit_user


class SfuOutput(serializers.Serializer):
    server = serializers.CharField(help_text="Janus HTTP API URL for the browser (janus.js `server`)")
    room = serializers.IntegerField(help_text="the VideoRoom room id")
    pin = serializers.CharField(help_text="the room's pin, sent as `pin` in the VideoRoom `join` request")
    token = serializers.CharField(
        help_text="Janus token: pass as janus.js `token`, and as `token` in the VideoRoom `join` request"
    )
    expires_at = serializers.DateTimeField(help_text="join again before then to keep the seat (same token)")
    ice_servers = serializers.ListField(child=serializers.DictField(), help_text="STUN/TURN for the peer connection")


class GroupCallOutput(serializers.Serializer):
    call = serializers.DictField(help_text="the call as `call.*` events carry it")
    sfu = SfuOutput()


class GroupCallJoinApi(APIView):
    @extend_schema(request=None, responses=GroupCallOutput)
    def post(self, request: Request, room_id: int) -> Response:
        """Join the room's group call (starting it if none is live): members only."""
        rate_limit_user(user_id=request.user.pk, action="calls.group.user")
        seat = group.group_call_join(user=request.user, room_id=room_id)
        data = {
            "call": group.group_call_payload(seat.call),
            "sfu": {
                "server": settings.JANUS_PUBLIC_URL,
                "room": seat.call.sfu_room_id,
                "pin": seat.sfu_pin,
                "token": seat.participant.sfu_token,
                "expires_at": seat.participant.token_expires_at,
                "ice_servers": turn.ice_servers_for(request.user),
            },
        }
        response = Response(GroupCallOutput(data).data)
        # The token lets its holder into the call: no browser or proxy may keep it.
        response["Cache-Control"] = "no-store"
        return response


class GroupCallLeaveApi(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, room_id: int) -> Response:
        """Leave the room's group call; the token stops working. Members only; idempotent."""
        rate_limit_user(user_id=request.user.pk, action="calls.group.user")
        group.group_call_leave(user=request.user, room_id=room_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Included under calls/group/ by calls/api/urls.py.
urlpatterns = [
    path("<int:room_id>/join", GroupCallJoinApi.as_view(), name="api-calls-group-join"),
    path("<int:room_id>/leave", GroupCallLeaveApi.as_view(), name="api-calls-group-leave"),
]
