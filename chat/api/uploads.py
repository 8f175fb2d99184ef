"""Uploads, avatars and access-checked downloads: one view per operation, rules in ``chat.uploads``.

Uploads stream through :class:`UploadLimitHandler`, which refuses a body whose declared length is
over the limit before reading it and stops reading once the file passes the limit. Downloads are
streamed from local storage, or redirected to a short-lived signed URL on S3.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import structlog
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpRequest, HttpResponseBase, HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import UserOutput
from chat import payloads, selectors, uploads
from chat.api.schema import AttachmentSchema
from chat.models import Attachment
from fastsock.core.errors import ApiError, ErrorCode
from fastsock.core.ratelimit import rate_limit_user

logger = structlog.get_logger(__name__)

# Room for the multipart boundaries and part headers around the file in a declared length.
MULTIPART_OVERHEAD_BYTES = 16 * 1024
# Attachments never change under their id; avatars do, under the same URL.
ATTACHMENT_MAX_AGE = 3600
AVATAR_MAX_AGE = 300
DOWNLOAD_CSP = "default-src 'none'; sandbox"


class UploadLimitHandler(FileUploadHandler):
    """Refuse an upload over ``max_bytes``: up front by its declared length, then while streaming.

    Installed ahead of Django's memory and temporary-file handlers, so that they never hold
    more than the limit; when it stops the upload, Django closes (and so deletes) their files.
    """

    def __init__(self, request: HttpRequest | None = None, *, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.received = 0
        self.exceeded = False

    def handle_raw_input(
        self, input_data: Any, meta: dict[str, Any], content_length: int, boundary: bytes, encoding: str | None = None
    ) -> None:
        if content_length > self.max_bytes + MULTIPART_OVERHEAD_BYTES:
            self.exceeded = True
            # Nothing of the body has been read, and nothing will be.
            raise uploads.upload_too_large()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        # Counted over every file part: several files cannot add up to more than one may be.
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


class UploadInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)


class AnyAcceptNegotiation(DefaultContentNegotiation):
    """Files answer whatever the client accepts (an ``<img>`` asks for ``image/*``); errors are JSON."""

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


def limit_uploads(request: Request) -> None:
    rate_limit_user(user_id=request.user.pk, action="chat.upload.user")


class FileUploadView(APIView):
    """A view that takes one multipart ``file``, read through :class:`UploadLimitHandler`."""

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # Before anything reads the body: session authentication reads it for the CSRF token.
        self.upload_limit = UploadLimitHandler(request, max_bytes=settings.UPLOAD_MAX_BYTES)
        request.upload_handlers.insert(0, self.upload_limit)
        return super().initialize_request(request, *args, **kwargs)

    def uploaded_file(self, request: Request) -> UploadedFile:
        data = request.data
        if self.upload_limit.exceeded:
            raise uploads.upload_too_large()
        serializer = UploadInput(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data["file"]


def _content_disposition(filename: str, *, inline: bool) -> str:
    fallback = "".join(
        char if char.isascii() and char.isprintable() and char not in '"\\' else "_" for char in filename
    )
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _protect(response: HttpResponseBase, *, disposition: str, max_age: int) -> HttpResponseBase:
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = f"private, max-age={max_age}"
    return response


def stored_file_response(
    field_file: FieldFile, *, content_type: str, filename: str, inline: bool, max_age: int
) -> HttpResponseBase:
    """Stream a stored file from local storage, or redirect to a short-lived signed URL."""
    storage = field_file.storage
    disposition = _content_disposition(filename, inline=inline)
    try:
        storage.path(field_file.name)
    except NotImplementedError:
        return _signed_redirect(field_file, content_type=content_type, disposition=disposition, max_age=max_age)
    try:
        handle = storage.open(field_file.name, "rb")
    except FileNotFoundError:
        logger.error("stored_file_missing", storage_name=field_file.name)
        raise ApiError(ErrorCode.NOT_FOUND, "The file is gone.") from None
    except OSError:
        logger.exception("stored_file_unreadable", storage_name=field_file.name)
        raise ApiError(ErrorCode.UNAVAILABLE, "The file cannot be read just now; try again later.") from None
    response = FileResponse(handle, content_type=content_type)
    return _protect(response, disposition=disposition, max_age=max_age)


def _signed_redirect(field_file: FieldFile, *, content_type: str, disposition: str, max_age: int) -> HttpResponseBase:
    from storages.backends.s3 import S3Storage

    storage = field_file.storage
    if isinstance(storage, S3Storage):
        ttl = storage.querystring_expire
        url = storage.url(
            field_file.name,
            parameters={
                "ResponseContentType": content_type,
                "ResponseContentDisposition": disposition,
                "ResponseCacheControl": f"private, max-age={max_age}",
            },
        )
    else:
        ttl = 0
        url = storage.url(field_file.name)
    # The redirect may be reused only while its signature is still good.
    return _protect(HttpResponseRedirect(url), disposition=disposition, max_age=min(max_age, ttl // 2))


def _attachment_response(attachment: Attachment) -> HttpResponseBase:
    content_type = attachment.content_type
    if content_type == "text/plain":
        content_type += "; charset=utf-8"
    return stored_file_response(
        attachment.file,
        content_type=content_type,
        filename=attachment.original_name,
        inline=attachment.kind == Attachment.Kind.IMAGE,
        max_age=ATTACHMENT_MAX_AGE,
    )


def _image_response(field_file: FieldFile, *, filename: str, max_age: int) -> HttpResponseBase:
    content_type = uploads.stored_image_type(field_file.name)
    extension = field_file.name.rsplit(".", 1)[-1]
    return stored_file_response(
        field_file,
        content_type=content_type,
        filename=f"{filename}.{extension}",
        # A picture set some other way (the back office) may be of a type this module never writes.
        inline=content_type.startswith("image/"),
        max_age=max_age,
    )


_FILE_REQUEST = {
    "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
}


class UploadApi(FileUploadView):
    @extend_schema(operation_id="uploads_create", request=_FILE_REQUEST, responses={201: AttachmentSchema})
    def post(self, request: Request) -> Response:
        """Upload a file for a later message; its type is decided by its content."""
        limit_uploads(request)
        attachment = uploads.attachment_create(uploader=request.user, uploaded_file=self.uploaded_file(request))
        return Response(payloads.attachment_payload(attachment), status=status.HTTP_201_CREATED)


class AttachmentDownloadApi(APIView):
    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(operation_id="attachments_download", responses={(200, "*/*"): OpenApiTypes.BINARY, 302: None})
    def get(self, request: Request, attachment_id: int) -> HttpResponseBase:
        """The file, for its uploader and the members of rooms where it was posted."""
        attachment = uploads.attachment_get_for_download(attachment_id=attachment_id, user=request.user)
        return _attachment_response(attachment)


class AttachmentThumbnailApi(APIView):
    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(operation_id="attachments_thumbnail", responses={(200, "image/*"): OpenApiTypes.BINARY, 302: None})
    def get(self, request: Request, attachment_id: int) -> HttpResponseBase:
        """A preview of an image attachment, at most 480 pixels on its longer side."""
        attachment = uploads.attachment_thumbnail_get(attachment_id=attachment_id, user=request.user)
        stem = attachment.original_name.rsplit(".", 1)[0]
        return _image_response(attachment.thumbnail, filename=f"{stem}-thumbnail", max_age=ATTACHMENT_MAX_AGE)


class AvatarUploadApi(FileUploadView):
    @extend_schema(operation_id="users_me_avatar", request=_FILE_REQUEST, responses=UserOutput)
    def post(self, request: Request) -> Response:
        """Set the caller's avatar from an image: its centre, cropped square, 256x256."""
        limit_uploads(request)
        user = uploads.user_avatar_set(user=request.user, uploaded_file=self.uploaded_file(request))
        return Response(UserOutput(user).data)


class AvatarApi(APIView):
    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(operation_id="users_avatar", responses={(200, "image/*"): OpenApiTypes.BINARY, 302: None})
    def get(self, request: Request, user_id: int) -> HttpResponseBase:
        """Anyone signed in may see anyone's avatar."""
        user = uploads.user_avatar_get(user_id=user_id)
        return _image_response(user.avatar, filename=f"avatar-{user.username}", max_age=AVATAR_MAX_AGE)


class RoomAvatarApi(FileUploadView):
    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(operation_id="rooms_avatar", responses={(200, "image/*"): OpenApiTypes.BINARY, 302: None})
    def get(self, request: Request, room_id: int) -> HttpResponseBase:
        """The group's picture, for its members."""
        room = uploads.room_avatar_get(room_id=room_id, user=request.user)
        return _image_response(room.avatar, filename=f"room-{room.pk}", max_age=AVATAR_MAX_AGE)

    @extend_schema(
        operation_id="rooms_avatar_set",
        request=_FILE_REQUEST,
        responses=inline_serializer(
            "RoomAvatar", {"id": serializers.IntegerField(), "avatar_url": serializers.CharField()}
        ),
    )
    def post(self, request: Request, room_id: int) -> Response:
        """Set a group's picture (owners and admins); cropped square, 256x256."""
        limit_uploads(request)
        membership = selectors.membership_for(room_id=room_id, user=request.user)
        uploads.room_avatar_check_allowed(actor=membership)
        room = uploads.room_avatar_set(actor=membership, uploaded_file=self.uploaded_file(request))
        return Response({"id": room.pk, "avatar_url": payloads.room_payload(room)["avatar_url"]})
