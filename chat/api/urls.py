from django.urls import path

from . import rooms, search, uploads

urlpatterns = [
    path("rooms", rooms.RoomListCreateApi.as_view(), name="api-rooms"),
    path("rooms/direct", rooms.DirectRoomApi.as_view(), name="api-rooms-direct"),
    path("rooms/<int:room_id>", rooms.RoomDetailApi.as_view(), name="api-room"),
    path("rooms/<int:room_id>/members", rooms.RoomMembersApi.as_view(), name="api-room-members"),
    path("rooms/<int:room_id>/members/<int:user_id>", rooms.RoomMemberApi.as_view(), name="api-room-member"),
    path("rooms/<int:room_id>/messages", rooms.RoomMessagesApi.as_view(), name="api-room-messages"),
    path("rooms/<int:room_id>/read", rooms.RoomReadApi.as_view(), name="api-room-read"),
    path("rooms/<int:room_id>/avatar", uploads.RoomAvatarApi.as_view(), name="api-room-avatar"),
    path("history/room/<int:room_id>", rooms.HistoryApi.as_view(), name="api-history"),
    path("messages/<int:message_id>", rooms.MessageApi.as_view(), name="api-message"),
    path("messages/<int:message_id>/edits", rooms.MessageEditsApi.as_view(), name="api-message-edits"),
    path("messages/<int:message_id>/reactions", rooms.ReactionsApi.as_view(), name="api-reactions"),
    path("messages/<int:message_id>/reactions/<str:emoji>", rooms.ReactionApi.as_view(), name="api-reaction"),
    path("messages/<int:message_id>/receipts", rooms.ReceiptsApi.as_view(), name="api-receipts"),
    path("search", search.SearchApi.as_view(), name="api-search"),
    path("uploads", uploads.UploadApi.as_view(), name="api-uploads"),
    path("attachments/<int:attachment_id>", uploads.AttachmentDownloadApi.as_view(), name="api-attachment"),
    path(
        "attachments/<int:attachment_id>/thumbnail",
        uploads.AttachmentThumbnailApi.as_view(),
        name="api-attachment-thumbnail",
    ),
    path("users/me/avatar", uploads.AvatarUploadApi.as_view(), name="api-me-avatar"),
    path("users/<int:user_id>/avatar", uploads.AvatarApi.as_view(), name="api-user-avatar"),
]
