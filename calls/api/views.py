"""Calls endpoints: one view per operation, rules in services, selectors and ``calls.turn``."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import turn
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
