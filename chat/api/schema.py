"""OpenAPI descriptions of the chat payloads (chat/payloads.py builds the actual JSON).

These serializers only document shapes for drf-spectacular; a test checks that real responses
carry exactly these fields, so the schema cannot drift from what the API sends.
"""

from __future__ import annotations

from rest_framework import serializers

from chat.models import Attachment, Membership, Message, Room


class UserSummarySchema(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()


class AttachmentSchema(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    thumbnail_url = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Attachment.Kind.choices)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)


class ReplySchema(serializers.Serializer):
    id = serializers.IntegerField()
    sender = UserSummarySchema(allow_null=True)
    content = serializers.CharField()
    deleted = serializers.BooleanField()


class ReactionSummarySchema(serializers.Serializer):
    emoji = serializers.CharField()
    count = serializers.IntegerField()
    me = serializers.BooleanField()
    user_ids = serializers.ListField(child=serializers.IntegerField(), help_text="who reacted, in order")


class MessageSchema(serializers.Serializer):
    id = serializers.IntegerField()
    room_id = serializers.IntegerField()
    sender = UserSummarySchema(allow_null=True)
    type = serializers.ChoiceField(choices=Message.Type.choices)
    content = serializers.CharField()
    attachment = AttachmentSchema(allow_null=True)
    reply_to = ReplySchema(allow_null=True)
    client_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()
    reactions = ReactionSummarySchema(many=True)


class MemberSchema(UserSummarySchema):
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    joined_at = serializers.DateTimeField()
    avatar_url = serializers.CharField(allow_null=True)
    last_read_message_id = serializers.IntegerField(allow_null=True, help_text="read up to (for ticks, Seen by)")
    last_delivered_message_id = serializers.IntegerField(allow_null=True, help_text="received up to")
    online = serializers.BooleanField(help_text="has a socket open anywhere (fellow members may see it)")
    last_seen = serializers.DateTimeField(allow_null=True)


class RoomSchema(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Room.Kind.choices)
    name = serializers.CharField()
    title = serializers.CharField()
    avatar_url = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    last_activity_at = serializers.DateTimeField()
    last_message = MessageSchema(allow_null=True)
    peer = UserSummarySchema(allow_null=True)
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    notification_level = serializers.ChoiceField(choices=Membership.Notify.choices)
    last_read_message_id = serializers.IntegerField(allow_null=True)
    unread_count = serializers.IntegerField()


class RoomDetailSchema(RoomSchema):
    members = MemberSchema(many=True)


class RoomPageSchema(serializers.Serializer):
    results = RoomSchema(many=True)
    next = serializers.CharField(allow_null=True)


class HistoryPageSchema(serializers.Serializer):
    results = MessageSchema(many=True)
    has_more = serializers.BooleanField()
    previous = serializers.IntegerField(allow_null=True)
    next = serializers.IntegerField(allow_null=True)


class MembersSchema(serializers.Serializer):
    results = MemberSchema(many=True)


class MembersAddedSchema(serializers.Serializer):
    added = UserSummarySchema(many=True)
    members = MemberSchema(many=True)


class ReactionsSchema(serializers.Serializer):
    message_id = serializers.IntegerField()
    room_id = serializers.IntegerField()
    reactions = ReactionSummarySchema(many=True)


class ReceiptSchema(serializers.Serializer):
    user = UserSummarySchema()
    delivered_at = serializers.DateTimeField(allow_null=True)
    read_at = serializers.DateTimeField(allow_null=True)


class ReceiptsSchema(serializers.Serializer):
    message_id = serializers.IntegerField()
    results = ReceiptSchema(many=True)


class EditSchema(serializers.Serializer):
    content = serializers.CharField()
    edited_at = serializers.DateTimeField()
    edited_by = UserSummarySchema(allow_null=True)


class EditsSchema(serializers.Serializer):
    results = EditSchema(many=True)


class ReadSchema(serializers.Serializer):
    unread_count = serializers.IntegerField()
    last_read_message_id = serializers.IntegerField(allow_null=True)
