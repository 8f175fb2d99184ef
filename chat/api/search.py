"""Message search: GET /api/v1/search. The rules live in ``chat.search``."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import payloads, search, selectors
from fastsock.core.ratelimit import rate_limit_user


class SearchInput(serializers.Serializer):
    # Checked by chat.search (empty, too long, no words), so every caller gets the same answers.
    q = serializers.CharField(required=False, default="", allow_blank=True, trim_whitespace=False)
    room_id = serializers.IntegerField(required=False, min_value=1)
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=search.MAX_LIMIT, default=search.DEFAULT_LIMIT
    )
    cursor = serializers.CharField(required=False, max_length=200)


class SearchApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="words to find, 1-200 characters"),
            OpenApiParameter("room_id", OpenApiTypes.INT, description="only this room (members only)"),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1-100, default 20"),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="`next` from the previous page"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        """Messages in the caller's rooms containing every word, best match first."""
        rate_limit_user(user_id=request.user.pk, action="chat.search.user")
        data = SearchInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        page = search.message_search(
            user=request.user,
            query=values["q"],
            room_id=values.get("room_id"),
            limit=values["limit"],
            cursor=values.get("cursor"),
        )
        reactions = selectors.reaction_summaries(
            message_ids=[hit.message.pk for hit in page.results], viewer_id=request.user.pk
        )
        results = [
            {
                "message": payloads.message_payload(hit.message, reactions=reactions.get(hit.message.pk)),
                "room_id": hit.message.room_id,
                "highlight": hit.highlight,
                "rank": hit.rank,
            }
            for hit in page.results
        ]
        return Response({"results": results, "next": page.next})
