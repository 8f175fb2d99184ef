"""Rooms, members, messages, read state, reactions and receipts: one view per operation.

Views parse input, ask ``chat.selectors.membership_for`` (the single room-access rule), call one
service and shape the answer with ``chat.payloads``.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from chat import payloads, selectors, services
from chat.api import schema
from chat.models import Membership
from fastsock.core.errors import ApiError, ErrorCode, invalid_field
from fastsock.core.ratelimit import rate_limit_user

DEFAULT_PAGE = 50
MAX_PAGE = 100


def limit_user(request: Request, action: str) -> None:
    rate_limit_user(user_id=request.user.pk, action=action)


class PageInput(serializers.Serializer):
    before = serializers.IntegerField(required=False, min_value=1)
    after = serializers.IntegerField(required=False, min_value=0)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, default=DEFAULT_PAGE)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "before" in attrs and "after" in attrs:
            raise serializers.ValidationError({"before": ["Give before or after, not both."]})
        return attrs


def _encode_room_cursor(at: datetime, room_id: int) -> str:
    raw = json.dumps([at.isoformat(), room_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_room_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at_text, room_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        at = parse_datetime(at_text)
        if at is None or not isinstance(room_id, int):
            raise ValueError
        return at, room_id
    except (ValueError, TypeError, json.JSONDecodeError):
        raise invalid_field("cursor", "Not a cursor this API gave out.") from None


def room_list_payload(memberships: list[Membership], user: User) -> list[dict[str, Any]]:
    peers = selectors.direct_peers(room_ids=[m.room_id for m in memberships], user=user)
    return [
        payloads.room_payload(
            m.room,
            membership=m,
            unread_count=m.unread_count,
            peer=peers.get(m.room_id),
            last_message=m.room.last_message,
        )
        for m in memberships
    ]


def room_detail_payload(membership: Membership, user: User) -> dict[str, Any]:
    members = list(selectors.room_members(room_id=membership.room_id))
    peer = next((m.user for m in members if m.user_id != user.pk), None) if membership.room.kind == "direct" else None
    room = membership.room
    last_message = room.last_message if room.last_message_id else None
    payload = payloads.room_payload(
        room,
        membership=membership,
        unread_count=selectors.unread_count(membership=membership),
        peer=peer,
        last_message=last_message,
    )
    payload["members"] = payloads.members_with_presence(members)
    return payload


class RoomCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    member_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=1000, default=list)


class RoomListCreateApi(APIView):
    @extend_schema(
        operation_id="rooms_list",
        parameters=[
            OpenApiParameter("cursor", OpenApiTypes.STR, description="`next` from the previous page"),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1-100, default 50"),
        ],
        responses=schema.RoomPageSchema,
    )
    def get(self, request: Request) -> Response:
        """The caller's rooms, most recently active first, each with its unread count."""
        page = PageInput(data=request.query_params)
        page.is_valid(raise_exception=True)
        limit = page.validated_data["limit"]
        cursor = request.query_params.get("cursor")
        before = _decode_room_cursor(cursor) if cursor else None
        memberships = selectors.membership_list(user=request.user, before=before, limit=limit + 1)
        has_more = len(memberships) > limit
        memberships = memberships[:limit]
        next_cursor = None
        if has_more:
            last = memberships[-1].room
            next_cursor = _encode_room_cursor(last.last_activity_at, last.pk)
        return Response({"results": room_list_payload(memberships, request.user), "next": next_cursor})

    @extend_schema(request=RoomCreateInput, responses={201: schema.RoomDetailSchema})
    def post(self, request: Request) -> Response:
        """Create a group room; the caller becomes its owner."""
        limit_user(request, "chat.room.user")
        data = RoomCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        room = services.room_create_group(creator=request.user, **data.validated_data)
        membership = selectors.membership_for(room_id=room.pk, user=request.user)
        return Response(room_detail_payload(membership, request.user), status=status.HTTP_201_CREATED)


class DirectRoomInput(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1)


class DirectRoomApi(APIView):
    @extend_schema(request=DirectRoomInput, responses={200: schema.RoomDetailSchema, 201: schema.RoomDetailSchema})
    def post(self, request: Request) -> Response:
        """The one direct room with that person: 201 when created now, 200 when it existed."""
        limit_user(request, "chat.room.user")
        data = DirectRoomInput(data=request.data)
        data.is_valid(raise_exception=True)
        other = User.objects.filter(pk=data.validated_data["user_id"], is_active=True).first()
        if other is None:
            raise invalid_field("user_id", "No such person.")
        room, created = services.direct_room_get_or_create(user=request.user, other=other)
        membership = selectors.membership_for(room_id=room.pk, user=request.user)
        body = room_detail_payload(membership, request.user)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class RoomUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    notification_level = serializers.ChoiceField(choices=Membership.Notify.choices, required=False)


class RoomDetailApi(APIView):
    @extend_schema(responses=schema.RoomDetailSchema)
    def get(self, request: Request, room_id: int) -> Response:
        membership = selectors.membership_for(room_id=room_id, user=request.user)
        return Response(room_detail_payload(membership, request.user))

    @extend_schema(request=RoomUpdateInput, responses=schema.RoomDetailSchema)
    def patch(self, request: Request, room_id: int) -> Response:
        """Rename the group (owners/admins) and/or set the caller's own notification level."""
        limit_user(request, "chat.write.user")
        membership = selectors.membership_for(room_id=room_id, user=request.user)
        data = RoomUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        if "name" in data.validated_data:
            services.room_rename(actor=membership, name=data.validated_data["name"])
        if "notification_level" in data.validated_data:
            services.membership_set_notification_level(
                membership=membership, level=data.validated_data["notification_level"]
            )
        membership = selectors.membership_for(room_id=room_id, user=request.user)
        return Response(room_detail_payload(membership, request.user))


class MembersAddInput(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1, required=False)
    user_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=1000, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        ids = list(attrs.get("user_ids", []))
        if "user_id" in attrs:
            ids.append(attrs["user_id"])
        if not ids:
            raise serializers.ValidationError({"user_ids": ["Name at least one person."]})
        return {"user_ids": ids}


class RoomMembersApi(APIView):
    @extend_schema(responses=schema.MembersSchema)
    def get(self, request: Request, room_id: int) -> Response:
        membership = selectors.membership_for(room_id=room_id, user=request.user)
        members = selectors.room_members(room_id=membership.room_id)
        return Response({"results": payloads.members_with_presence(members)})

    @extend_schema(request=MembersAddInput, responses={201: schema.MembersAddedSchema})
    def post(self, request: Request, room_id: int) -> Response:
        """Add people to a group (owners and admins)."""
        limit_user(request, "chat.write.user")
        membership = selectors.membership_for(room_id=room_id, user=request.user)
        data = MembersAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        added = services.room_members_add(actor=membership, user_ids=data.validated_data["user_ids"])
        members = selectors.room_members(room_id=membership.room_id)
        return Response(
            {
                "added": [payloads.user_summary(user) for user in added],
                "members": payloads.members_with_presence(members),
            },
            status=status.HTTP_201_CREATED,
        )


class MemberRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class RoomMemberApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, room_id: int, user_id: int) -> Response:
        """Remove a member (owners and admins) or leave the room (your own id)."""
        limit_user(request, "chat.write.user")
        membership = selectors.membership_for(room_id=room_id, user=request.user)
        services.room_member_remove(actor=membership, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=MemberRoleInput, responses=schema.MemberSchema)
    def patch(self, request: Request, room_id: int, user_id: int) -> Response:
        """Change a member's role (owners only)."""
        limit_user(request, "chat.write.user")
        membership = selectors.membership_for(room_id=room_id, user=request.user)
        data = MemberRoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        target = services.room_member_set_role(actor=membership, user_id=user_id, role=data.validated_data["role"])
        return Response(payloads.members_with_presence([target])[0])


def messages_payload(messages: list[Any], viewer: User) -> list[dict[str, Any]]:
    reactions = selectors.reaction_summaries(message_ids=[m.pk for m in messages], viewer_id=viewer.pk)
    return [payloads.message_payload(m, reactions=reactions.get(m.pk)) for m in messages]


class HistoryApi(APIView):
    @extend_schema(parameters=[PageInput], responses=schema.HistoryPageSchema)
    def get(self, request: Request, room_id: int) -> Response:
        """A page of history, oldest first within the page; the newest page by default.

        ``previous`` is the ``before`` cursor for the older page, ``next`` the ``after`` cursor
        for the newer page; each is null when there is nothing more that way.
        """
        membership = selectors.membership_for(room_id=room_id, user=request.user)
        page_input = PageInput(data=request.query_params)
        page_input.is_valid(raise_exception=True)
        params = page_input.validated_data
        page = selectors.history_page(
            room_id=membership.room_id, before=params.get("before"), after=params.get("after"), limit=params["limit"]
        )
        messages = page.messages
        going_forward = "after" in params
        return Response(
            {
                "results": messages_payload(messages, request.user),
                "has_more": page.has_newer if going_forward else page.has_older,
                "previous": messages[0].pk if messages and page.has_older else None,
                "next": messages[-1].pk if messages and page.has_newer else None,
            }
        )


class MessageSendInput(serializers.Serializer):
    content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")
    client_id = serializers.CharField(required=False, max_length=64)
    type = serializers.ChoiceField(choices=["text", "image", "file"], required=False)
    attachment_id = serializers.IntegerField(required=False, min_value=1)
    reply_to = serializers.IntegerField(required=False, min_value=1)


class RoomMessagesApi(APIView):
    @extend_schema(request=MessageSendInput, responses={200: schema.MessageSchema, 201: schema.MessageSchema})
    def post(self, request: Request, room_id: int) -> Response:
        """Send a message; repeating a ``client_id`` returns the first message with 200."""
        limit_user(request, "chat.message.user")
        membership = selectors.membership_for(room_id=room_id, user=request.user)
        data = MessageSendInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        message, created = services.message_send(
            membership=membership,
            content=values.get("content"),
            client_id=values.get("client_id"),
            type=values.get("type"),
            attachment_id=values.get("attachment_id"),
            reply_to_id=values.get("reply_to"),
        )
        body = messages_payload([message], request.user)[0]
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ReadInput(serializers.Serializer):
    message_id = serializers.IntegerField(required=False, min_value=1)


class RoomReadApi(APIView):
    @extend_schema(request=ReadInput, responses=schema.ReadSchema)
    def post(self, request: Request, room_id: int) -> Response:
        """Mark the room read up to a message (default: the latest)."""
        limit_user(request, "chat.write.user")
        membership = selectors.membership_for(room_id=room_id, user=request.user)
        data = ReadInput(data=request.data)
        data.is_valid(raise_exception=True)
        unread = services.room_mark_read(membership=membership, message_id=data.validated_data.get("message_id"))
        return Response({"unread_count": unread, "last_read_message_id": membership.last_read_message_id})


class MessageEditInput(serializers.Serializer):
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)


class MessageApi(APIView):
    @extend_schema(responses=schema.MessageSchema)
    def get(self, request: Request, message_id: int) -> Response:
        message, _ = selectors.message_for(message_id=message_id, user=request.user)
        return Response(messages_payload([message], request.user)[0])

    @extend_schema(request=MessageEditInput, responses=schema.MessageSchema)
    def patch(self, request: Request, message_id: int) -> Response:
        """Edit your own message; the earlier text is kept in its edit history."""
        limit_user(request, "chat.write.user")
        message, membership = selectors.message_for(message_id=message_id, user=request.user)
        data = MessageEditInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_edit(membership=membership, message=message, content=data.validated_data["content"])
        return Response(messages_payload([message], request.user)[0])

    @extend_schema(responses=schema.MessageSchema)
    def delete(self, request: Request, message_id: int) -> Response:
        """Delete (author, or the room's owners/admins): the message becomes a tombstone."""
        limit_user(request, "chat.write.user")
        message, membership = selectors.message_for(message_id=message_id, user=request.user)
        message = services.message_delete(membership=membership, message=message)
        return Response(messages_payload([message], request.user)[0])


class MessageEditsApi(APIView):
    @extend_schema(responses=schema.EditsSchema)
    def get(self, request: Request, message_id: int) -> Response:
        """Earlier versions of a message, oldest first (members only)."""
        message, _ = selectors.message_for(message_id=message_id, user=request.user)
        edits = message.edits.select_related("edited_by")
        return Response(
            {
                "results": [
                    {
                        "content": edit.previous_content,
                        "edited_at": payloads.iso(edit.edited_at),
                        "edited_by": payloads.user_summary(edit.edited_by),
                    }
                    for edit in edits
                ]
            }
        )


class ReactionInput(serializers.Serializer):
    emoji = serializers.CharField(max_length=64)


def _reaction_summary(message: Any, viewer: User) -> dict[str, Any]:
    summaries = selectors.reaction_summaries(message_ids=[message.pk], viewer_id=viewer.pk)
    return {"message_id": message.pk, "room_id": message.room_id, "reactions": summaries.get(message.pk, [])}


class ReactionsApi(APIView):
    @extend_schema(request=ReactionInput, responses={200: schema.ReactionsSchema, 201: schema.ReactionsSchema})
    def post(self, request: Request, message_id: int) -> Response:
        """React with an emoji (once per person and emoji; repeating is harmless)."""
        limit_user(request, "chat.reaction.user")
        message, membership = selectors.message_for(message_id=message_id, user=request.user)
        data = ReactionInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.reaction_add(membership=membership, message=message, emoji=data.validated_data["emoji"])
        return Response(
            _reaction_summary(message, request.user), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class ReactionApi(APIView):
    @extend_schema(responses=schema.ReactionsSchema)
    def delete(self, request: Request, message_id: int, emoji: str) -> Response:
        limit_user(request, "chat.reaction.user")
        message, membership = selectors.message_for(message_id=message_id, user=request.user)
        if not services.reaction_remove(membership=membership, message=message, emoji=emoji):
            raise ApiError(ErrorCode.NOT_FOUND, "You have not reacted with that emoji.")
        return Response(_reaction_summary(message, request.user))


class ReceiptsApi(APIView):
    @extend_schema(responses=schema.ReceiptsSchema)
    def get(self, request: Request, message_id: int) -> Response:
        """Per member (the sender excepted): when they received and read the message."""
        message, _ = selectors.message_for(message_id=message_id, user=request.user)
        receipts = selectors.message_receipts(message=message)
        return Response(
            {
                "message_id": message.pk,
                "results": [
                    {
                        "user": payloads.user_summary(receipt["user"]),
                        "delivered_at": payloads.iso(receipt["delivered_at"]),
                        "read_at": payloads.iso(receipt["read_at"]),
                    }
                    for receipt in receipts
                ],
            }
        )
