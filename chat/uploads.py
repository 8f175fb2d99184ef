"""Uploads: attachments, user and room avatars, and who may fetch them.

What a file *is* is decided by its bytes, never by its name or the client's Content-Type.
Images are decoded and re-encoded, so metadata and anything appended to them does not survive,
and get a thumbnail; other allowed types are stored as sent. Stored names are random and
files are only reached through the access-checked download views: whether someone may see an
attachment is decided with :func:`chat.selectors.membership_for`, the one room-access rule.
"""

from __future__ import annotations

import codecs
import hashlib
import mimetypes
import re
import secrets
import struct
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from io import BytesIO
from typing import Any

import filetype
import structlog
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage
from django.db import models, transaction
from django.db.models.fields.files import FieldFile
from PIL import Image, ImageCms, ImageOps, ImageSequence, features

from accounts.models import User
from fastsock.core.errors import ApiError, ErrorCode

from . import selectors, services
from .models import Attachment, Membership, Message, Room

logger = structlog.get_logger(__name__)

THUMBNAIL_MAX_SIDE = 480
AVATAR_SIDE = 256
# Frames are decoded one by one, but re-encoding an animation holds them all; the pixel limit
# bounds memory, this bounds the time spent on thousands of tiny frames.
MAX_ANIMATION_FRAMES = 1000
# filetype looks at no more than this many leading bytes.
SNIFF_BYTES = 8192

ATTACHMENT_NOT_FOUND = "No such attachment."

IMAGE_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
_ANIMATED_FORMATS = {"GIF", "PNG", "WEBP"}
# filetype's names for types that the allow-list spells differently.
_ALIASES = {"audio/x-wav": "audio/wav", "image/apng": "image/png"}
# A download name keeps its extension only if it fits the sniffed type; otherwise the first
# one here is appended, so "evil.png" holding a PDF is offered as "evil.png.pdf".
_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
    "text/plain": (
        ".txt", ".text", ".md", ".markdown", ".csv", ".tsv", ".log", ".json", ".yaml", ".yml", ".toml",
        ".ini", ".cfg", ".conf",
    ),
    "application/zip": (".zip",),
    "audio/mpeg": (".mp3",),
    "audio/ogg": (".ogg", ".oga", ".opus"),
    "audio/wav": (".wav",),
    "video/mp4": (".mp4", ".m4v"),
    "video/webm": (".webm",),
}  # fmt: skip
_STORED_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp"}
# Text whose first non-blank characters open a tag, a comment, a doctype or an XML declaration
# is markup (HTML, SVG, XML), whatever else it may be.
_MARKUP_START = re.compile(r"<[A-Za-z!?/]")
_BLANK = " \t\r\n\x0c\ufeff"
# What Pillow's decoders raise on damaged or hostile input.
_PILLOW_ERRORS = (OSError, SyntaxError, ValueError, TypeError, EOFError, IndexError, struct.error)

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - django-storages[s3] brings botocore
    _STORAGE_ERRORS: tuple[type[Exception], ...] = (OSError,)
else:
    _STORAGE_ERRORS = (OSError, BotoCoreError, ClientError)


# --- Errors -----------------------------------------------------------------------------------


def _file_error(code: ErrorCode, message: str) -> ApiError:
    return ApiError(code, message, details={"file": [message]})


def _size_text(size: int) -> str:
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def upload_too_large() -> ApiError:
    return _file_error(
        ErrorCode.TOO_LARGE, f"The file is larger than the limit of {_size_text(settings.UPLOAD_MAX_BYTES)}."
    )


def storage_unavailable() -> ApiError:
    return ApiError(ErrorCode.UNAVAILABLE, "The file could not be stored just now; try again later.")


def attachment_not_found() -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, ATTACHMENT_NOT_FOUND)


def _unsupported(allowed: Iterable[str]) -> ApiError:
    return _file_error(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        "This type of file is not accepted. Accepted: " + ", ".join(sorted(allowed)) + ".",
    )


def _image_too_large(detail: str = "") -> ApiError:
    limit = settings.UPLOAD_IMAGE_MAX_PIXELS
    return _file_error(ErrorCode.TOO_LARGE, f"The image is too large{detail}: at most {limit:,} pixels.")


# --- What a file is ---------------------------------------------------------------------------


def sniff_content_type(uploaded_file: File) -> str | None:
    """The MIME type the bytes show, or None; the file's name and declared type play no part."""
    uploaded_file.seek(0)
    head = uploaded_file.read(SNIFF_BYTES)
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    kind = filetype.guess(head)
    if kind is not None:
        return _ALIASES.get(kind.mime, kind.mime)
    if _is_plain_text(uploaded_file):
        return "text/plain"
    return None


def _is_plain_text(uploaded_file: File) -> bool:
    """UTF-8 throughout, no NUL byte, and no markup (HTML, SVG, XML) at its start."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    start = ""
    uploaded_file.seek(0)
    try:
        for chunk in uploaded_file.chunks():
            if b"\x00" in chunk:
                return False
            text = decoder.decode(chunk)
            if len(start) < 2:
                start = (start + text).lstrip(_BLANK)[:16]
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return not _MARKUP_START.match(start)


def _accepted_type(uploaded_file: File, *, allowed: Iterable[str]) -> str:
    allowed = set(allowed)
    content_type = sniff_content_type(uploaded_file)
    if content_type not in allowed:
        logger.info("upload_refused_type", sniffed=content_type, declared=getattr(uploaded_file, "content_type", None))
        raise _unsupported(allowed)
    return content_type


def _check_size(uploaded_file: File) -> None:
    if uploaded_file.size > settings.UPLOAD_MAX_BYTES:
        raise upload_too_large()
    if not uploaded_file.size:
        raise _file_error(ErrorCode.INVALID, "The submitted file is empty.")


def _extensions(content_type: str) -> tuple[str, ...]:
    known = _EXTENSIONS.get(content_type) or tuple(mimetypes.guess_all_extensions(content_type))
    return known or (".bin",)


def _download_name(client_name: str | None, *, content_type: str) -> str:
    """The client's file name, safe to show and to offer on download, with an extension fitting the type."""
    name = unicodedata.normalize("NFC", client_name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Control and format characters go: no newlines in headers, no right-to-left override tricks.
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C").strip(" .")
    extensions = _extensions(content_type)
    name = name or "file"
    if not name.lower().endswith(extensions):
        name += extensions[0]
    if len(name) > 255:
        stem, _, extension = name.rpartition(".")
        name = f"{stem[: 254 - len(extension)]}.{extension}"
    return name


def _random_name(extension: str) -> str:
    return f"{secrets.token_hex(16)}{extension}"


def stored_image_type(name: str) -> str:
    """The type of an image this module stored, from the extension it gave the file."""
    for extension, content_type in _STORED_IMAGE_TYPES.items():
        if name.lower().endswith(extension):
            return content_type
    return "application/octet-stream"


# --- Images -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Decoded:
    frames: list[Image.Image]
    durations: list[int]
    loop: int | None


@dataclass(frozen=True)
class _ReencodedImage:
    content: bytes
    width: int
    height: int
    thumbnail: bytes


def _preview_format() -> tuple[str, str]:
    """Thumbnails and avatars: WebP, or PNG from a Pillow built without it."""
    return ("WEBP", ".webp") if features.check("webp") else ("PNG", ".png")


def _check_pixels(pixels: int, detail: str = "") -> None:
    if pixels > settings.UPLOAD_IMAGE_MAX_PIXELS:
        raise _image_too_large(detail)


def _decode(uploaded_file: File, image_format: str, *, all_frames: bool) -> _Decoded:
    """Decode an image of the sniffed format into clean frames, refusing bombs and damaged files."""
    try:
        uploaded_file.seek(0)
        with Image.open(uploaded_file, formats=[image_format]) as probe:
            # Only the header has been read: refuse before a single pixel is decoded.
            _check_pixels(probe.width * probe.height, f" ({probe.width}x{probe.height})")
            probe.verify()
        uploaded_file.seek(0)
        with Image.open(uploaded_file, formats=[image_format]) as image:
            animated = all_frames and image_format in _ANIMATED_FORMATS and getattr(image, "is_animated", False)
            loop = image.info.get("loop")
            frames: list[Image.Image] = []
            durations: list[int] = []
            pixels = 0
            for frame in ImageSequence.Iterator(image) if animated else [image]:
                if len(frames) == MAX_ANIMATION_FRAMES:
                    raise _file_error(
                        ErrorCode.TOO_LARGE, f"The animation has more than {MAX_ANIMATION_FRAMES} frames."
                    )
                pixels += frame.width * frame.height
                _check_pixels(pixels, " (all frames together)")
                durations.append(int(frame.info.get("duration") or 100))
                frames.append(_clean_frame(frame, upright=not animated))
    except Image.DecompressionBombError:
        raise _image_too_large() from None
    except _PILLOW_ERRORS:
        raise _file_error(ErrorCode.INVALID, "The image is damaged or incomplete.") from None
    return _Decoded(frames=frames, durations=durations, loop=loop)


def _clean_frame(frame: Image.Image, *, upright: bool) -> Image.Image:
    """Pixels only: turned upright by the EXIF orientation, in sRGB, with no metadata at all."""
    has_alpha = frame.has_transparency_data
    icc_profile = frame.info.get("icc_profile")
    clean = ImageOps.exif_transpose(frame) if upright else frame.copy()
    if icc_profile and clean.mode in ("RGB", "RGBA", "CMYK"):
        clean = _to_srgb(clean, icc_profile)
    if clean.mode not in ("RGB", "RGBA", "L", "LA"):
        clean = clean.convert("RGBA" if has_alpha else "RGB")
    # Encoders fall back on ``info`` for comments, ICC profiles and the like: nothing is passed on.
    clean.info = {}
    return clean


def _to_srgb(image: Image.Image, icc_profile: bytes) -> Image.Image:
    """Convert to sRGB, so that the colours survive dropping the embedded profile."""
    try:
        source = ImageCms.ImageCmsProfile(BytesIO(icc_profile))
        converted = ImageCms.profileToProfile(
            image, source, ImageCms.createProfile("sRGB"), outputMode="RGBA" if image.mode == "RGBA" else "RGB"
        )
    except (ImageCms.PyCMSError, *_PILLOW_ERRORS):
        return image  # an unusable profile: the pixels stay as they are
    return converted if converted is not None else image


def _encode(decoded: _Decoded, image_format: str) -> bytes:
    first, *rest = decoded.frames
    options: dict[str, Any] = {}
    if image_format == "JPEG":
        options["quality"] = 90
        if first.mode not in ("RGB", "L"):
            first = first.convert("RGB")
    elif image_format == "WEBP":
        options["quality"] = 90
    if rest:
        options.update(save_all=True, append_images=rest, duration=decoded.durations)
        if decoded.loop is not None:
            options["loop"] = decoded.loop
        if image_format == "GIF":
            # Frames are whole pictures: clear before each, or transparent pixels show the last.
            options["disposal"] = 2
    output = BytesIO()
    first.save(output, format=image_format, **options)
    return output.getvalue()


def _encode_preview(image: Image.Image, *, quality: int) -> bytes:
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if image.mode == "LA" else "RGB")
    output = BytesIO()
    image.save(output, format=_preview_format()[0], quality=quality)
    return output.getvalue()


def _reencoded_image(uploaded_file: File, content_type: str) -> _ReencodedImage:
    image_format = IMAGE_FORMATS[content_type]
    decoded = _decode(uploaded_file, image_format, all_frames=True)
    try:
        content = _encode(decoded, image_format)
        thumbnail = decoded.frames[0].copy()
        thumbnail.thumbnail((THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE), Image.Resampling.LANCZOS)
        preview = _encode_preview(thumbnail, quality=80)
    except _PILLOW_ERRORS:
        raise _file_error(ErrorCode.INVALID, "The image could not be processed.") from None
    width, height = decoded.frames[0].size
    return _ReencodedImage(content=content, width=width, height=height, thumbnail=preview)


def _avatar_content(uploaded_file: File) -> bytes:
    """A square of the image's centre, AVATAR_SIDE pixels wide, freshly encoded."""
    _check_size(uploaded_file)
    content_type = _accepted_type(uploaded_file, allowed=set(IMAGE_FORMATS) & set(settings.UPLOAD_ALLOWED_TYPES))
    decoded = _decode(uploaded_file, IMAGE_FORMATS[content_type], all_frames=False)
    try:
        square = ImageOps.fit(decoded.frames[0], (AVATAR_SIDE, AVATAR_SIDE), Image.Resampling.LANCZOS)
        return _encode_preview(square, quality=85)
    except _PILLOW_ERRORS:
        raise _file_error(ErrorCode.INVALID, "The image could not be processed.") from None


# --- Storage ----------------------------------------------------------------------------------


def _delete_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except _STORAGE_ERRORS:
        logger.warning("upload_cleanup_failed", storage_name=name, exc_info=True)


@contextmanager
def _removed_on_failure(storage: Storage) -> Iterator[list[str]]:
    """Collect the names written in the block; if the block fails, remove them again."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for name in written:
            _delete_quietly(storage, name)
        raise


def _save(field_file: FieldFile, name: str, content: File, *, content_type: str) -> str:
    """Write ``content`` under a name from the field's ``upload_to``; 503 if storage fails."""
    # S3 stores this as the object's Content-Type; the client's header never gets that far.
    content.content_type = content_type
    target = field_file.field.generate_filename(field_file.instance, name)
    try:
        field_file.save(name, content, save=False)
    except _STORAGE_ERRORS:
        logger.exception("upload_store_failed", storage_name=target, content_type=content_type)
        # A half-written file must not stay behind; the name is random, so it is ours alone.
        _delete_quietly(field_file.storage, target)
        raise storage_unavailable() from None
    return field_file.name


def _size_and_sha256(uploaded_file: File) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    uploaded_file.seek(0)
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
        size += len(chunk)
    uploaded_file.seek(0)
    return size, digest.hexdigest()


# --- Services ---------------------------------------------------------------------------------


def attachment_create(*, uploader: User, uploaded_file: File) -> Attachment:
    """Store an upload of an allowed type as the uploader's attachment, not yet in any room.

    Images are re-encoded and get a thumbnail; size and sha256 describe the stored bytes.
    """
    _check_size(uploaded_file)
    content_type = _accepted_type(uploaded_file, allowed=settings.UPLOAD_ALLOWED_TYPES)
    attachment = Attachment(
        uploader=uploader,
        original_name=_download_name(uploaded_file.name, content_type=content_type),
        content_type=content_type,
    )
    image = _reencoded_image(uploaded_file, content_type) if content_type in IMAGE_FORMATS else None
    if image is not None:
        content: File = ContentFile(image.content)
        attachment.kind = Attachment.Kind.IMAGE
        attachment.size, attachment.sha256 = len(image.content), hashlib.sha256(image.content).hexdigest()
        attachment.width, attachment.height = image.width, image.height
    else:
        content = uploaded_file
        attachment.kind = Attachment.Kind.FILE
        attachment.size, attachment.sha256 = _size_and_sha256(uploaded_file)

    with _removed_on_failure(attachment.file.storage) as written:
        extension = _extensions(content_type)[0]
        written.append(_save(attachment.file, _random_name(extension), content, content_type=content_type))
        if image is not None:
            preview_extension = _preview_format()[1]
            written.append(
                _save(
                    attachment.thumbnail,
                    _random_name(preview_extension),
                    ContentFile(image.thumbnail),
                    content_type=_STORED_IMAGE_TYPES[preview_extension],
                )
            )
        attachment.save()
    logger.info("attachment_created", attachment_id=attachment.pk, content_type=content_type, size=attachment.size)
    return attachment


def _image_field_replace(instance: models.Model, field_name: str, content: bytes) -> None:
    """Store ``content`` as the instance's new image and remove the old file once committed."""
    field_file: FieldFile = getattr(instance, field_name)
    storage = field_file.storage
    extension = _preview_format()[1]
    with _removed_on_failure(storage) as written:
        name = _save(
            field_file, _random_name(extension), ContentFile(content), content_type=_STORED_IMAGE_TYPES[extension]
        )
        written.append(name)
        with transaction.atomic():
            # Read the current name under a lock: of two racing changes, each removes the file it replaced.
            # Not type(instance): over session auth the user is a SimpleLazyObject wrapping it.
            model = instance._meta.model
            previous = model.objects.select_for_update().values_list(field_name, flat=True).get(pk=instance.pk)
            model.objects.filter(pk=instance.pk).update(**{field_name: name})
            if previous:
                transaction.on_commit(partial(_delete_quietly, storage, previous))


def user_avatar_set(*, user: User, uploaded_file: File) -> User:
    """Make a re-encoded square of an image (PNG, JPEG, GIF or WebP) the user's avatar."""
    _image_field_replace(user, "avatar", _avatar_content(uploaded_file))
    return user


def room_avatar_check_allowed(*, actor: Membership) -> None:
    """Only the owners and admins of a group may change its picture (403 otherwise)."""
    # The same rule as renaming or adding members, from the one place that states it.
    services.require_group_admin(actor)


def room_avatar_set(*, actor: Membership, uploaded_file: File) -> Room:
    """Make a re-encoded square of an image the group's picture (owners and admins only)."""
    room_avatar_check_allowed(actor=actor)
    room = actor.room
    _image_field_replace(room, "avatar", _avatar_content(uploaded_file))
    return room


# --- Selectors --------------------------------------------------------------------------------


def attachment_get_for_download(*, attachment_id: Any, user: User) -> Attachment:
    """An attachment the user uploaded, or that a live message shows in one of their rooms.

    Anything else is reported exactly like an id that does not exist.
    """
    if not getattr(user, "is_authenticated", False):
        raise ApiError(ErrorCode.NOT_AUTHENTICATED, "Authentication is required.")
    try:
        attachment_id = int(attachment_id)
    except (TypeError, ValueError):
        raise attachment_not_found() from None
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        raise attachment_not_found()
    if attachment.uploader_id == user.pk:
        return attachment
    room_ids = (
        Message.objects.filter(attachment=attachment, deleted_at__isnull=True)
        .order_by()
        .values_list("room_id", flat=True)
        .distinct()
    )
    for room_id in room_ids:
        try:
            selectors.membership_for(room_id=room_id, user=user)
        except ApiError:
            continue
        return attachment
    raise attachment_not_found()


def attachment_thumbnail_get(*, attachment_id: Any, user: User) -> Attachment:
    """Like :func:`attachment_get_for_download`, for attachments that have a thumbnail."""
    attachment = attachment_get_for_download(attachment_id=attachment_id, user=user)
    if not attachment.thumbnail:
        raise ApiError(ErrorCode.NOT_FOUND, "This attachment has no thumbnail.")
    return attachment


def user_avatar_get(*, user_id: Any) -> User:
    """A user who has an avatar (anyone signed in may see it), or 404."""
    user = User.objects.filter(pk=user_id).exclude(avatar="").first()
    if user is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such avatar.")
    return user


def room_avatar_get(*, room_id: Any, user: User) -> Room:
    """The room, for its members, if it has a picture; 404 otherwise."""
    room = selectors.membership_for(room_id=room_id, user=user).room
    if not room.avatar:
        raise ApiError(ErrorCode.NOT_FOUND, "This room has no picture.")
    return room
