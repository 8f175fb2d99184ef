"""Uploads, downloads and avatars: sniffed types, size limits, re-encoded images, who may fetch what."""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from PIL import Image, ImageCms, PngImagePlugin
from rest_framework.test import APIClient

from accounts.models import User
from chat import selectors, services
from chat.api.schema import AttachmentSchema
from chat.api.uploads import UploadLimitHandler
from chat.models import Attachment, Room

pytestmark = pytest.mark.django_db

KIB = 1024
UPLOADS = "/api/v1/uploads"
MY_AVATAR = "/api/v1/users/me/avatar"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
XML = b'<?xml version="1.0"?><note><to>you</to></note>'
EXECUTABLE = Path("/bin/true").read_bytes()


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    """A fresh MEDIA_ROOT per test; uploads over 1 KiB go through temporary files on disk."""
    settings.MEDIA_ROOT = tmp_path / "media"
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(incoming)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = KIB
    return settings.MEDIA_ROOT


@pytest.fixture
def team(alice, bob) -> Room:
    return services.room_create_group(creator=alice, name="Team", member_ids=[bob.pk])


def stored_files(media: Path) -> list[Path]:
    return sorted(path for path in media.rglob("*") if path.is_file()) if media.exists() else []


def temporary_files(settings) -> list[Path]:
    return list(Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir())


def image_bytes(image_format: str = "PNG", size: tuple[int, int] = (64, 48), **options) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", size, (200, 40, 30)).save(output, format=image_format, **options)
    return output.getvalue()


def minimal_pdf() -> bytes:
    """A one-page PDF written by hand, with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(pdf)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + png_chunk(b"IEND", b"")
    )


def upload(client, data: bytes, name: str, content_type: str = "application/octet-stream", path: str = UPLOADS):
    """POST ``data`` as the multipart ``file``, claiming ``name`` and ``content_type`` as a client would."""
    return client.post(path, {"file": SimpleUploadedFile(name, data, content_type=content_type)}, format="multipart")


def send(user: User, room: Room, attachment_id: int):
    membership = selectors.membership_for(room_id=room.pk, user=user)
    message, _ = services.message_send(membership=membership, content="", attachment_id=attachment_id)
    return message


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def stored_bytes(attachment: Attachment, field: str = "file") -> bytes:
    with getattr(attachment, field).open("rb") as handle:
        return handle.read()


def assert_error(response, status: int, code: str, *, field: str | None = "file") -> None:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert field in error["details"], error


# --- Authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", UPLOADS),
        ("get", "/api/v1/attachments/1"),
        ("get", "/api/v1/attachments/1/thumbnail"),
        ("post", MY_AVATAR),
        ("get", "/api/v1/users/1/avatar"),
        ("get", "/api/v1/rooms/1/avatar"),
        ("post", "/api/v1/rooms/1/avatar"),
    ],
)
def test_anonymous_requests_are_refused(api_client, media, method, path):
    data = {"file": SimpleUploadedFile("a.txt", b"hello")} if method == "post" else None
    response = getattr(api_client, method)(path, data, format="multipart" if data else None)
    assert_error(response, 401, "not_authenticated", field=None)
    assert stored_files(media) == []


# --- What is accepted -----------------------------------------------------------------------------


def test_an_uploaded_png_comes_back_in_the_contract_shape(client_for, alice):
    response = upload(client_for(alice), image_bytes(), "pixel.png", "image/png")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == set(AttachmentSchema().fields)
    assert body["url"] == f"/api/v1/attachments/{body['id']}"
    assert body["thumbnail_url"] == f"/api/v1/attachments/{body['id']}/thumbnail"
    assert (body["content_type"], body["kind"], body["name"]) == ("image/png", "image", "pixel.png")
    assert (body["width"], body["height"]) == (64, 48)
    attachment = Attachment.objects.get(pk=body["id"])
    stored = stored_bytes(attachment)
    assert body["size"] == attachment.size == len(stored)
    assert attachment.sha256 == hashlib.sha256(stored).hexdigest()
    assert attachment.uploader == alice


def test_the_type_comes_from_the_bytes_not_the_name_or_the_header(client_for, alice):
    png = upload(client_for(alice), image_bytes(), "photo.pdf", "application/pdf").json()
    pdf = upload(client_for(alice), minimal_pdf(), "scan.png", "image/png").json()
    assert (png["content_type"], png["kind"], png["name"]) == ("image/png", "image", "photo.pdf.png")
    assert (pdf["content_type"], pdf["kind"], pdf["name"]) == ("application/pdf", "file", "scan.png.pdf")


def test_a_pdf_is_stored_exactly_as_sent(client_for, alice):
    response = upload(client_for(alice), minimal_pdf(), "plan.pdf", "application/pdf")
    assert response.status_code == 201
    body = response.json()
    assert (body["content_type"], body["kind"], body["thumbnail_url"], body["width"]) == (
        "application/pdf", "file", None, None,
    )  # fmt: skip
    attachment = Attachment.objects.get(pk=body["id"])
    assert stored_bytes(attachment) == minimal_pdf()
    assert attachment.sha256 == hashlib.sha256(minimal_pdf()).hexdigest()


def test_utf8_text_is_accepted_as_plain_text(client_for, alice):
    text = "Grüße, 世界\nsecond line <3\n".encode()
    body = upload(client_for(alice), text, "notes", "text/html").json()
    assert (body["content_type"], body["name"], body["size"]) == ("text/plain", "notes.txt", len(text))


def test_a_stored_file_name_is_random_and_the_shown_name_is_cleaned(client_for, alice, media):
    body = upload(client_for(alice), minimal_pdf(), "..\\..\\etc/re\u202eport\x07.pdf", "application/pdf").json()
    assert body["name"] == "report.pdf"
    [stored] = stored_files(media)
    assert stored.relative_to(media).parts[0] == "attachments"
    assert "report" not in stored.name


@pytest.mark.parametrize(
    ("name", "data", "declared"),
    [
        ("evil.png", EXECUTABLE, "image/png"),
        ("page.html", HTML, "text/html"),
        ("page.png", HTML, "image/png"),
        ("indented.txt", b"\r\n\t  " + HTML, "text/plain"),
        ("drawing.svg", SVG, "image/svg+xml"),
        ("drawing.png", SVG, "image/png"),
        ("feed.xml", XML, "application/xml"),
        ("nul.txt", b"plain text\x00with a NUL byte", "text/plain"),
        ("latin1.txt", "café crème".encode("latin-1"), "text/plain"),
    ],
    ids=["executable", "html", "html-as-png", "html-after-blanks", "svg", "svg-as-png", "xml", "nul", "not-utf8"],
)
def test_dangerous_or_unknown_types_are_refused(client_for, alice, settings, media, name, data, declared):
    response = upload(client_for(alice), data, name, declared)
    assert_error(response, 415, "unsupported_media_type")
    assert Attachment.objects.count() == 0
    assert stored_files(media) == []
    assert temporary_files(settings) == []


def test_only_types_on_the_allow_list_are_accepted(client_for, alice, settings):
    settings.UPLOAD_ALLOWED_TYPES = ["image/png"]
    response = upload(client_for(alice), minimal_pdf(), "plan.pdf", "application/pdf")
    assert_error(response, 415, "unsupported_media_type")
    assert "image/png" in response.json()["error"]["message"]
    assert upload(client_for(alice), image_bytes(), "ok.png", "image/png").status_code == 201


def test_an_empty_file_is_refused(client_for, alice):
    assert_error(upload(client_for(alice), b"", "empty.txt", "text/plain"), 400, "invalid")


def test_a_request_without_a_file_names_the_missing_field(client_for, alice):
    client = client_for(alice)
    assert_error(client.post(UPLOADS, {"note": "no file"}, format="multipart"), 400, "invalid")
    assert_error(client.post(UPLOADS, {"file": "not a file"}, format="multipart"), 400, "invalid")
    assert_error(client.post(UPLOADS, {}, format="json"), 400, "invalid")


# --- Size ---------------------------------------------------------------------------------------


def test_a_file_of_exactly_the_limit_is_accepted(client_for, alice, settings):
    settings.UPLOAD_MAX_BYTES = 64 * KIB
    response = upload(client_for(alice), b"a" * (64 * KIB), "full.txt", "text/plain")
    assert response.status_code == 201
    assert response.json()["size"] == 64 * KIB
    assert temporary_files(settings) == []


def test_a_file_over_the_limit_is_refused_while_streaming_and_leaves_nothing(
    client_for, alice, settings, media, monkeypatch
):
    settings.UPLOAD_MAX_BYTES = 64 * KIB
    spooled = []
    spool = TemporaryFileUploadHandler.receive_data_chunk

    def counting_spool(self, raw_data, start):
        spooled.append(len(raw_data))
        return spool(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", counting_spool)
    # 8 KiB over: the declared length passes the up-front check, the stream does not.
    response = upload(client_for(alice), b"a" * (72 * KIB), "big.txt", "text/plain")
    assert_error(response, 413, "too_large")
    assert 0 < sum(spooled) <= 64 * KIB, "reading stopped at the limit, not at the end of the file"
    assert "64 KiB" in response.json()["error"]["message"]
    assert Attachment.objects.count() == 0
    assert stored_files(media) == []
    assert temporary_files(settings) == []


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(client_for, alice, settings):
    settings.UPLOAD_MAX_BYTES = 64 * KIB
    body = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello\r\n--x--\r\n'
    # The test client's input stream fails loudly if anything reads past these few bytes.
    response = client_for(alice).generic(
        "POST", UPLOADS, body, content_type="multipart/form-data; boundary=x", CONTENT_LENGTH=str(10 * 1024 * KIB)
    )
    assert_error(response, 413, "too_large")
    assert temporary_files(settings) == []


def test_session_uploads_check_csrf_and_the_limit_alike(alice, settings):
    # Session authentication reads the body for the CSRF token before the view runs.
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    token = "c" * 32
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    assert upload(client, image_bytes(), "pixel.png").status_code == 403
    ok = client.post(UPLOADS, {"file": SimpleUploadedFile("a.png", image_bytes())}, HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 201
    settings.UPLOAD_MAX_BYTES = 64 * KIB
    body = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello\r\n--x--\r\n'
    too_large = client.generic(
        "POST",
        UPLOADS,
        body,
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(10 * 1024 * KIB),
        HTTP_X_CSRFTOKEN=token,
    )
    assert_error(too_large, 413, "too_large")


def test_the_limit_handler_stops_the_stream_once_the_total_passes_the_limit():
    handler = UploadLimitHandler(max_bytes=10)
    assert handler.receive_data_chunk(b"x" * 6, 0) == b"x" * 6
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"x" * 6, 6)
    assert handler.exceeded


def test_uploads_are_rate_limited_per_user(client_for, alice, bob, rate):
    # A period no other run uses, so that earlier counts in a shared cache do not leak in.
    rate("chat.upload.user", f"2/{1000 + secrets.randbelow(9000)}h")
    client = client_for(alice)
    assert [upload(client, b"hi", "a.txt").status_code for _ in range(2)] == [201, 201]
    refused = upload(client, b"hi", "a.txt")
    assert_error(refused, 429, "rate_limited", field=None)
    assert int(refused["Retry-After"]) > 0
    assert upload(client_for(bob), b"hi", "b.txt").status_code == 201


# --- Images -------------------------------------------------------------------------------------


def test_a_jpeg_is_turned_upright_and_loses_its_metadata(client_for, alice):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    exif[0x010F] = "SpyCam Industries"
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = image_bytes("JPEG", size=(80, 40), exif=exif, comment=b"<script>alert(1)</script>", icc_profile=profile)
    assert b"SpyCam" in original
    body = upload(client_for(alice), original, "holiday.jpg", "image/jpeg").json()
    assert (body["content_type"], body["width"], body["height"]) == ("image/jpeg", 40, 80)
    stored = stored_bytes(Attachment.objects.get(pk=body["id"]))
    assert b"SpyCam" not in stored
    assert b"<script" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (40, 80)
        assert len(image.getexif()) == 0
        assert "comment" not in image.info
        assert "icc_profile" not in image.info


def test_a_png_polyglot_loses_its_payload(client_for, alice):
    payload = b"<html><script>alert(document.domain)</script></html>"
    metadata = PngImagePlugin.PngInfo()
    metadata.add_text("Comment", "<script>alert('chunk')</script>")
    polyglot = image_bytes("PNG", pnginfo=metadata) + payload
    assert payload in polyglot
    response = upload(client_for(alice), polyglot, "cat.png", "image/png")
    assert response.status_code == 201
    stored = stored_bytes(Attachment.objects.get(pk=response.json()["id"]))
    assert b"<script" not in stored
    assert stored.endswith(png_chunk(b"IEND", b""))
    with Image.open(io.BytesIO(stored)) as image:
        assert (image.format, image.size) == ("PNG", (64, 48))


@pytest.mark.parametrize(
    ("width", "height"), [(100_000, 100_000), (10_000, 6_000)], ids=["past-pillow-guard", "past-setting"]
)
def test_an_image_declaring_too_many_pixels_is_refused_before_decoding(client_for, alice, media, width, height):
    bomb = bomb_png(width, height)
    assert len(bomb) < 2 * KIB
    response = upload(client_for(alice), bomb, "bomb.png", "image/png")
    assert_error(response, 413, "too_large")
    assert "pixels" in response.json()["error"]["message"]
    assert stored_files(media) == []


def test_the_pixel_limit_comes_from_the_settings(client_for, alice, settings):
    settings.UPLOAD_IMAGE_MAX_PIXELS = 100 * 100
    response = upload(client_for(alice), image_bytes(size=(200, 200)), "big.png", "image/png")
    assert_error(response, 413, "too_large")
    assert "10,000 pixels" in response.json()["error"]["message"]
    assert upload(client_for(alice), image_bytes(size=(100, 100)), "ok.png", "image/png").status_code == 201


def test_a_damaged_image_is_refused(client_for, alice, media):
    truncated = image_bytes(size=(300, 300))[:70]
    assert_error(upload(client_for(alice), truncated, "broken.png", "image/png"), 400, "invalid")
    assert stored_files(media) == []


def test_an_animated_gif_keeps_its_frames(client_for, alice):
    frames = [Image.new("RGB", (32, 32), color) for color in ("red", "green", "blue")]
    output = io.BytesIO()
    frames[0].save(output, format="GIF", save_all=True, append_images=frames[1:], duration=120, loop=0)
    body = upload(client_for(alice), output.getvalue(), "blink.gif", "image/gif").json()
    assert body["content_type"] == "image/gif"
    with Image.open(io.BytesIO(stored_bytes(Attachment.objects.get(pk=body["id"])))) as image:
        assert image.n_frames == 3


# --- Who may download ---------------------------------------------------------------------------


@pytest.fixture
def posted_pdf(client_for, alice, team) -> Attachment:
    attachment_id = upload(client_for(alice), minimal_pdf(), "plan.pdf", "application/pdf").json()["id"]
    send(alice, team, attachment_id)
    return Attachment.objects.get(pk=attachment_id)


def download(client, attachment: Attachment):
    return client.get(f"/api/v1/attachments/{attachment.pk}")


def test_the_uploader_can_download_before_posting(client_for, alice):
    attachment_id = upload(client_for(alice), minimal_pdf(), "plan.pdf").json()["id"]
    response = client_for(alice).get(f"/api/v1/attachments/{attachment_id}")
    assert response.status_code == 200
    assert body_of(response) == minimal_pdf()


def test_an_upload_not_yet_posted_is_private_to_its_uploader(client_for, alice, bob, team):
    attachment_id = upload(client_for(alice), minimal_pdf(), "plan.pdf").json()["id"]
    assert client_for(bob).get(f"/api/v1/attachments/{attachment_id}").status_code == 404


def test_a_member_of_the_room_where_it_was_posted_can_download(client_for, bob, posted_pdf):
    response = download(client_for(bob), posted_pdf)
    assert response.status_code == 200
    assert body_of(response) == minimal_pdf()


def test_a_non_member_gets_the_same_404_as_for_a_missing_id(client_for, carol, posted_pdf):
    hidden = download(client_for(carol), posted_pdf)
    missing = client_for(carol).get(f"/api/v1/attachments/{posted_pdf.pk + 1000}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


def test_a_member_of_another_room_cannot_download(client_for, alice, carol, posted_pdf):
    services.direct_room_get_or_create(user=alice, other=carol)
    assert download(client_for(carol), posted_pdf).status_code == 404


def test_deleting_the_message_takes_the_file_away_from_members(client_for, alice, bob, team, posted_pdf):
    message = posted_pdf.messages.get()
    services.message_delete(membership=selectors.membership_for(room_id=team.pk, user=alice), message=message)
    assert download(client_for(bob), posted_pdf).status_code == 404
    assert download(client_for(alice), posted_pdf).status_code == 200


def test_downloads_carry_protective_headers(client_for, bob, posted_pdf):
    response = download(client_for(bob), posted_pdf)
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(minimal_pdf()))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''plan.pdf" in response["Content-Disposition"]
    assert response["Cache-Control"].startswith("private, max-age=")


def test_a_non_ascii_name_is_percent_encoded_in_the_header(client_for, alice):
    attachment_id = upload(client_for(alice), minimal_pdf(), "résumé.pdf").json()["id"]
    response = client_for(alice).get(f"/api/v1/attachments/{attachment_id}")
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9.pdf" in response["Content-Disposition"]
    assert 'filename="r_sum_.pdf"' in response["Content-Disposition"]


def test_text_is_served_as_utf8_plain_text_for_download(client_for, alice):
    attachment_id = upload(client_for(alice), b"hello", "hello.txt").json()["id"]
    response = client_for(alice).get(f"/api/v1/attachments/{attachment_id}")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")


def test_images_are_shown_inline_whatever_the_client_accepts(client_for, alice):
    attachment_id = upload(client_for(alice), image_bytes(), "pixel.png").json()["id"]
    response = client_for(alice).get(f"/api/v1/attachments/{attachment_id}", HTTP_ACCEPT="image/avif,image/webp")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_an_image_gets_a_thumbnail_of_at_most_480_pixels(client_for, alice, bob, carol, team):
    body = upload(client_for(alice), image_bytes(size=(1200, 600)), "wide.png").json()
    send(alice, team, body["id"])
    response = client_for(bob).get(body["thumbnail_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    with Image.open(io.BytesIO(body_of(response))) as thumbnail:
        assert thumbnail.size == (480, 240)
    assert client_for(carol).get(body["thumbnail_url"]).status_code == 404


def test_a_file_that_is_not_an_image_has_no_thumbnail(client_for, alice):
    body = upload(client_for(alice), minimal_pdf(), "plan.pdf").json()
    assert body["thumbnail_url"] is None
    assert client_for(alice).get(f"/api/v1/attachments/{body['id']}/thumbnail").status_code == 404


# --- S3 -----------------------------------------------------------------------------------------


@pytest.fixture
def s3_storage(settings):
    """Uploads on an in-process S3 (moto), configured as production configures django-storages."""
    import boto3
    from moto import mock_aws

    credentials = {"aws_access_key_id": "fastsock-test", "aws_secret_access_key": "fastsock-test-secret"}
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", **credentials)
        client.create_bucket(Bucket="fastsock-uploads")
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "fastsock-uploads",
                    "access_key": credentials["aws_access_key_id"],
                    "secret_key": credentials["aws_secret_access_key"],
                    "region_name": "us-east-1",
                    "addressing_style": "path",
                    "signature_version": "s3v4",
                    "default_acl": None,
                    "file_overwrite": False,
                    "querystring_auth": True,
                    "querystring_expire": 300,
                },
            },
        }
        yield client


def test_on_s3_a_download_redirects_to_a_short_lived_signed_url(client_for, alice, carol, s3_storage, media):
    body = upload(client_for(alice), minimal_pdf(), "plan.pdf", "text/html").json()
    attachment = Attachment.objects.get(pk=body["id"])
    stored = s3_storage.head_object(Bucket="fastsock-uploads", Key=attachment.file.name)
    assert stored["ContentType"] == "application/pdf"
    response = client_for(alice).get(body["url"])
    assert response.status_code == 302
    location = response["Location"]
    assert "X-Amz-Signature=" in location
    assert "X-Amz-Expires=300" in location
    assert "response-content-type=application%2Fpdf" in location
    assert "response-content-disposition=attachment" in location
    assert response["Cache-Control"].startswith("private, max-age=")
    assert download(client_for(carol), attachment).status_code == 404
    assert stored_files(media) == []


# --- Storage failures ---------------------------------------------------------------------------


def test_a_storage_failure_is_a_clean_503_and_is_logged(client_for, alice, monkeypatch, caplog, media):
    def disk_full(self, name, content):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", disk_full)
    with caplog.at_level(logging.ERROR, logger="chat.uploads"):
        response = upload(client_for(alice), minimal_pdf(), "plan.pdf")
    assert_error(response, 503, "unavailable", field=None)
    assert "No space" not in response.content.decode()
    assert Attachment.objects.count() == 0
    assert any("upload_store_failed" in record.getMessage() for record in caplog.records)


def test_when_the_thumbnail_cannot_be_stored_the_image_is_removed_too(client_for, alice, monkeypatch, media):
    real_save = FileSystemStorage._save

    def thumbnails_fail(self, name, content):
        if name.startswith("thumbnails/"):
            raise OSError("disk full")
        return real_save(self, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", thumbnails_fail)
    response = upload(client_for(alice), image_bytes(), "pixel.png")
    assert_error(response, 503, "unavailable", field=None)
    assert Attachment.objects.count() == 0
    assert stored_files(media) == []


# --- Avatars ------------------------------------------------------------------------------------


def open_image(response) -> Image.Image:
    return Image.open(io.BytesIO(body_of(response)))


def test_an_avatar_is_cropped_square_and_resized_to_256(client_for, alice, bob):
    response = upload(client_for(alice), image_bytes("JPEG", size=(300, 200)), "me.jpg", path=MY_AVATAR)
    assert response.status_code == 200
    avatar_url = response.json()["avatar_url"]
    assert avatar_url.startswith(f"/api/v1/users/{alice.pk}/avatar?v=")
    assert client_for(alice).get("/api/v1/users/me").json()["avatar_url"] == avatar_url
    fetched = client_for(bob).get(avatar_url)
    assert fetched.status_code == 200
    assert fetched["Content-Type"] == "image/webp"
    assert fetched["X-Content-Type-Options"] == "nosniff"
    assert open_image(fetched).size == (256, 256)


def test_an_avatar_must_be_an_image(client_for, alice):
    for data, name in [(minimal_pdf(), "me.png"), (b"just text", "me.png"), (SVG, "me.svg")]:
        assert_error(upload(client_for(alice), data, name, "image/png", path=MY_AVATAR), 415, "unsupported_media_type")
    alice.refresh_from_db()
    assert not alice.avatar


def test_someone_without_an_avatar_has_none(client_for, alice, bob):
    assert client_for(alice).get("/api/v1/users/me").json()["avatar_url"] is None
    assert client_for(alice).get(f"/api/v1/users/{bob.pk}/avatar").status_code == 404


def test_a_new_avatar_replaces_the_old_file(client_for, alice, media, django_capture_on_commit_callbacks):
    client = client_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        first = upload(client, image_bytes("PNG"), "one.png", path=MY_AVATAR).json()["avatar_url"]
    alice.refresh_from_db()
    old_file = media / alice.avatar.name
    assert old_file.exists()
    with django_capture_on_commit_callbacks(execute=True):
        second = upload(client, image_bytes("JPEG"), "two.jpg", path=MY_AVATAR).json()["avatar_url"]
    alice.refresh_from_db()
    assert second != first
    assert not old_file.exists()
    assert stored_files(media) == [media / alice.avatar.name]


def test_an_owner_sets_the_room_picture_and_members_see_it(client_for, alice, bob, team):
    path = f"/api/v1/rooms/{team.pk}/avatar"
    response = upload(client_for(alice), image_bytes(size=(100, 400)), "team.png", path=path)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == team.pk
    assert body["avatar_url"].startswith(f"{path}?v=")
    fetched = client_for(bob).get(body["avatar_url"])
    assert fetched.status_code == 200
    assert open_image(fetched).size == (256, 256)


def test_a_plain_member_cannot_set_the_room_picture(client_for, bob, team):
    response = upload(client_for(bob), image_bytes(), "team.png", path=f"/api/v1/rooms/{team.pk}/avatar")
    assert_error(response, 403, "forbidden", field=None)
    team.refresh_from_db()
    assert not team.avatar


def test_a_non_member_can_neither_see_nor_set_the_room_picture(client_for, alice, carol, team):
    path = f"/api/v1/rooms/{team.pk}/avatar"
    upload(client_for(alice), image_bytes(), "team.png", path=path)
    assert_error(client_for(carol).get(path), 404, "not_found", field=None)
    assert_error(upload(client_for(carol), image_bytes(), "x.png", path=path), 404, "not_found", field=None)


def test_a_direct_room_has_no_picture_to_set(client_for, alice, bob):
    room, _ = services.direct_room_get_or_create(user=alice, other=bob)
    response = upload(client_for(alice), image_bytes(), "us.png", path=f"/api/v1/rooms/{room.pk}/avatar")
    assert_error(response, 403, "forbidden", field=None)
