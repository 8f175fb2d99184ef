"""Uploads and access-checked downloads (being built)."""

from rest_framework.exceptions import APIException
from rest_framework.views import APIView


class _NotYet(APIView):
    def dispatch(self, request, *args, **kwargs):
        raise APIException("Not implemented yet.")


UploadApi = AttachmentDownloadApi = AttachmentThumbnailApi = AvatarUploadApi = AvatarApi = RoomAvatarApi = _NotYet
