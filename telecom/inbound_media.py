"""Inbound MMS media: fetched from the gateway's links or taken from its multipart parts, then
checked and stored by chat's upload service, so they become ordinary chat attachments.

What a medium is, and whether it is accepted, is decided by chat's upload rules
(:func:`chat.uploads.attachment_create`: the type sniffed from the bytes, the upload size limit,
images re-encoded); where it is stored is the default storage (S3/MinIO when configured, local
files otherwise). A medium that cannot be had is reported as a :class:`MediumFailure` and never
makes the message itself fail.

Links are fetched over http(s) only, redirects included, with a deadline and a hard byte cap;
logs name a link by its host and path only, as the query of a media link often is its key.
"""

from __future__ import annotations

import http.client
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import structlog
from django.conf import settings
from django.core.files.base import File

from accounts.models import User
from chat import uploads
from chat.models import Attachment
from fastsock.core.errors import ApiError, ErrorCode

logger = structlog.get_logger(__name__)

MAX_URL_LENGTH = 2048
MAX_REDIRECTS = 3
CHUNK_BYTES = 64 * 1024
DEFAULT_NAME = "mms-medium"

# What chat's upload service answers, as the reasons noted on the message.
_REASON_FOR_CODE = {
    ErrorCode.TOO_LARGE: "too_large",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "unsupported_type",
    ErrorCode.INVALID: "invalid",
    ErrorCode.UNAVAILABLE: "storage_unavailable",
}
_REASON_TEXT = {
    "too_large": "too large",
    "unsupported_type": "a type that is not accepted",
    "invalid": "empty or damaged",
    "storage_unavailable": "could not be stored",
    "unreachable": "could not be fetched",
    "timeout": "took too long to fetch",
    "bad_url": "not an http(s) link",
    "too_many": "one too many",
}


class MediumRefused(Exception):  # noqa: N818 - reads as what happened
    """A medium that could not be fetched or stored; ``reason`` is one of the keys of _REASON_TEXT."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class MediumFailure:
    position: int  # 1-based, in the order the gateway gave the media
    name: str  # the file name the link or the part gives, as members may see it
    reason: str
    message: str


@dataclass
class StoredMedia:
    attachments: list[Attachment] = field(default_factory=list)
    failures: list[MediumFailure] = field(default_factory=list)


def source_for_logs(url: str) -> str:
    """A link as it may be logged and shown: scheme, host and path; no credentials, no query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(not a URL)"
    return f"{parts.scheme}://{host}{port}{parts.path}"[:200]


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a few redirects, and only to http(s): urllib alone would also follow one to ftp."""

    max_redirections = MAX_REDIRECTS

    def http_error_302(self, req: Any, fp: Any, code: int, msg: str, headers: Any) -> Any:
        target = headers.get("Location") or headers.get("URI") or ""
        if urlsplit(urljoin(req.full_url, target)).scheme.lower() not in ("http", "https"):
            fp.close()
            raise MediumRefused("bad_url", "The link redirects to something that is not http(s).")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener() -> urllib.request.OpenerDirector:
    # Built by hand rather than with build_opener, which would add file:, ftp: and data: handlers.
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _HttpOnlyRedirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _check_link(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise MediumRefused("bad_url", "The link is not a valid URL.") from None
    if len(url) > MAX_URL_LENGTH or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise MediumRefused("bad_url", f"An http(s) link of at most {MAX_URL_LENGTH} characters is needed.")


def _file_name(url: str) -> str:
    try:
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    except ValueError:
        name = ""
    return name or DEFAULT_NAME


def medium_fetch(url: str, *, max_bytes: int, timeout: float) -> File:
    """The bytes behind ``url``, streamed into a temporary file of at most ``max_bytes``.

    The whole fetch must finish within ``timeout`` seconds (give or take one network read).
    Raises :class:`MediumRefused` for a link that is not http(s), an answer other than 2xx, a
    connection that fails or is too slow, and a body over ``max_bytes`` (refused from its
    Content-Length before it is read, or as soon as the stream passes the cap).
    """
    _check_link(url)
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"User-Agent": "FastSock-MMS/1", "Accept": "*/*"})  # noqa: S310 - http(s) checked above
    spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115 - handed on in a File
    try:
        with _opener().open(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(max_bytes)
            size = 0
            while chunk := response.read(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(max_bytes)
                if time.monotonic() > deadline:
                    raise MediumRefused("timeout", f"Fetching took longer than {timeout:g} seconds.")
                spool.write(chunk)
            final_url = response.geturl()
    except MediumRefused:
        spool.close()
        raise
    except urllib.error.HTTPError as error:
        spool.close()
        error.close()
        raise MediumRefused("unreachable", f"The media server answered {error.code}.") from None
    except (http.client.HTTPException, OSError, ValueError) as error:
        spool.close()
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError | socket.timeout):
            raise MediumRefused("timeout", f"The media server did not answer within {timeout:g} seconds.") from None
        raise MediumRefused(
            "unreachable", f"The media server could not be reached ({type(reason).__name__})."
        ) from None
    spool.seek(0)
    fetched = File(spool, name=_file_name(final_url))
    fetched.size = size
    return fetched


def _too_large(max_bytes: int) -> MediumRefused:
    return MediumRefused("too_large", f"Larger than the limit of {max_bytes} bytes.")


def _store(uploaded: File, *, uploader: User) -> Attachment:
    try:
        return uploads.attachment_create(uploader=uploader, uploaded_file=uploaded)
    except ApiError as error:
        raise MediumRefused(_REASON_FOR_CODE.get(error.code, "invalid"), error.message) from None


def inbound_media_store(*, urls: Sequence[str], files: Sequence[File], uploader: User, sid: str) -> StoredMedia:
    """Fetch and store an inbound MMS's media as ``uploader``'s attachments (not yet in a room).

    Links come first, then file parts, each in the order given; past ``TELECOM_MMS_MAX_MEDIA``
    the rest are not fetched but reported as ``too_many``. Each failure is logged (with the
    message's ``sid``) and returned, never raised.
    """
    result = StoredMedia()
    items: list[tuple[str, Any]] = [("url", url) for url in urls] + [("file", part) for part in files]
    for position, (kind, item) in enumerate(items, start=1):
        name = _file_name(item) if kind == "url" else str(getattr(item, "name", "") or DEFAULT_NAME)
        name, source = name[:100], source_for_logs(item) if kind == "url" else "multipart"
        try:
            if position > settings.TELECOM_MMS_MAX_MEDIA:
                raise MediumRefused("too_many", f"At most {settings.TELECOM_MMS_MAX_MEDIA} media are kept per message.")
            if kind == "url":
                fetched = medium_fetch(
                    item, max_bytes=settings.UPLOAD_MAX_BYTES, timeout=settings.TELECOM_MMS_FETCH_TIMEOUT_SECONDS
                )
                try:
                    attachment = _store(fetched, uploader=uploader)
                finally:
                    fetched.close()
            else:
                attachment = _store(item, uploader=uploader)
        except MediumRefused as refused:
            logger.warning("mms_medium_refused", sid=sid, position=position, source=source, reason=refused.reason)
            result.failures.append(MediumFailure(position, name, refused.reason, refused.message))
            continue
        logger.info("mms_medium_stored", sid=sid, position=position, attachment_id=attachment.pk)
        result.attachments.append(attachment)
    return result


def media_discard(attachments: Sequence[Attachment]) -> None:
    """Remove stored media files whose message was not stored after all (its rows roll back)."""
    for attachment in attachments:
        for field_file in (attachment.file, attachment.thumbnail):
            if field_file:
                try:
                    field_file.storage.delete(field_file.name)
                except Exception:  # cleaning up after a failure: the first error is the one to raise
                    logger.warning("mms_medium_cleanup_failed", storage_name=field_file.name, exc_info=True)


def failure_summary(failures: Sequence[MediumFailure], *, total: int) -> str:
    """One line for the message's ``error_message``: which media were not stored, and why."""
    reasons = "; ".join(f"#{f.position} {_REASON_TEXT.get(f.reason, f.reason)}" for f in failures)
    return f"{len(failures)} of {total} media not stored: {reasons}."


def failure_note(failures: Sequence[MediumFailure]) -> str:
    """The note members see in the room under the SMS, naming each medium that did not come."""
    count = len(failures)
    lines = [f"{count} {'attachment' if count == 1 else 'attachments'} of this SMS could not be received:"]
    lines += [f"• {f.name}: {_REASON_TEXT.get(f.reason, f.reason)}" for f in failures]
    return "\n".join(lines)
