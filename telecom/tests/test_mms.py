"""MMS: outbound media go to SMS-only gateways as links in the text (counted when accepted);
inbound media are fetched from the gateway's links or taken from multipart parts, stored like
chat uploads (local files or S3) and shown with the SMS in its room, without ever losing the text.

The media server, the gateway stand-in and the S3 server (moto) all run on 127.0.0.1.
"""

from __future__ import annotations

import io
import logging
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, TestCase
from django.utils import timezone
from PIL import Image

from chat.models import Attachment, Message
from fastsock.core.testing import api_client_for, free_port
from telecom import services, webhooks
from telecom.gateways import KannelGateway, SendRequest
from telecom.models import Connector, InboundRoute, PhoneNumber, Project, SmsConversation, SmsMessage, UsageDaily

pytestmark = pytest.mark.django_db

OURS, PHONE = "+14155550100", "+4915112345678"
KIB = 1024
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


def png_bytes(size: tuple[int, int] = (40, 30)) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(output, format="PNG")
    return output.getvalue()


def jpeg_bytes() -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (20, 20), (250, 200, 0)).save(output, format="JPEG")
    return output.getvalue()


# --- A media server (what an MMSC serves its media from) ---------------------------------------


@dataclass
class MediaServer:
    """Serves a few media by path and counts every request; ``url(path)`` links to one."""

    base: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    release: threading.Event = field(default_factory=threading.Event)
    # /gate.png: the request is noted, then answered only once the gate opens.
    gate_requested: threading.Event = field(default_factory=threading.Event)
    gate_open: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, query: str = "") -> str:
        return f"{self.base}{path}" + (f"?{query}" if query else "")


@pytest.fixture
def media_server(settings) -> Iterator[MediaServer]:
    settings.UPLOAD_MAX_BYTES = 64 * KIB
    state = MediaServer()
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {
        "/photo.png": (200, {"Content-Type": "image/png"}, png_bytes()),
        "/second.jpg": (200, {"Content-Type": "image/jpeg"}, jpeg_bytes()),
        "/note.txt": (200, {"Content-Type": "text/plain"}, b"a plain note"),
        # The server's Content-Type is not believed: the bytes decide.
        "/page.png": (200, {"Content-Type": "image/png"}, HTML),
        "/missing.png": (404, {}, b"no"),
        "/to-photo": (302, {"Location": "/photo.png"}, b""),
        "/to-ftp": (302, {"Location": "ftp://127.0.0.1/photo.png"}, b""),
        "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
        "/declared-huge.png": (200, {"Content-Length": str(10 * 1024 * KIB)}, b""),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            state.hits[path] += 1
            try:
                if path == "/endless.png":
                    self._endless()
                elif path == "/gate.png":
                    state.gate_requested.set()
                    state.gate_open.wait(10)
                    self._send(200, {"Content-Type": "image/png"}, png_bytes())
                elif path == "/stalls.png":
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(png_bytes()[:20])
                    self.wfile.flush()
                    state.release.wait(10)  # until the test is over; the fetch gives up long before
                else:
                    self._send(*routes.get(path, (404, {}, b"")))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the fetch stopped reading, as it should

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _endless(self) -> None:
            # No Content-Length: only counting while streaming can stop this one.
            self.send_response(200)
            self.end_headers()
            self.wfile.write(png_bytes())
            for _ in range(10_000):
                self.wfile.write(b"\0" * 16 * KIB)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    state.release.set()
    state.gate_open.set()
    server.shutdown()
    server.server_close()


# --- Inbound set-up ---------------------------------------------------------------------------


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


@pytest.fixture
def connector(monkeypatch):
    monkeypatch.setenv("GW_SECRET", "a-long-enough-webhook-secret")
    return Connector.objects.create(
        name="mmsc", kind="jasmin", base_url="http://127.0.0.1:9", webhook_secret_env="GW_SECRET",
        allowed_networks=["127.0.0.1/32"],
    )  # fmt: skip


@pytest.fixture
def number(connector):
    number = PhoneNumber.objects.create(e164=OURS, project=Project.objects.create(name="Shop"), mms=True)
    number.connectors.add(connector)
    return number


@pytest.fixture
def routed_to_alice(number, alice):
    return InboundRoute.objects.create(project=number.project, match="number", pattern=OURS, target_user=alice)


def inbound(connector, *, body="Look at this", message_id="mms-1", **media: Any):
    """POST an inbound message as a gateway would (multipart: Django's test client's default)."""
    url = urllib.parse.urlsplit(webhooks.fixed_url(connector, "inbound"))
    form = {"id": message_id, "from": PHONE.lstrip("+"), "to": OURS.lstrip("+"), "content": body, "coding": "0"}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return Client(REMOTE_ADDR="127.0.0.1").post(f"{url.path}?{url.query}", {**form, **media})


def received() -> SmsMessage:
    return SmsMessage.objects.get(direction="inbound")


def room_messages() -> list[Message]:
    """What came into the phone conversation's room, from the SMS on."""
    messages = Message.objects.filter(room=SmsConversation.objects.get().room).order_by("id")
    first_sms = messages.filter(type="sms").first()
    return list(messages.filter(id__gte=first_sms.pk))


# --- Outbound: links in the text ----------------------------------------------------------------


@pytest.fixture
def api_project(alice):
    project = Project.objects.create(name="Shop")
    project.memberships.create(user=alice, role="owner")
    number = PhoneNumber.objects.create(e164=OURS, project=project)
    gateway = Connector.objects.create(
        name="jasmin-1", kind="jasmin", base_url="http://127.0.0.1:9", webhook_secret_env="X"
    )
    number.connectors.add(gateway)
    return project


def send(alice, body: dict[str, Any]):
    return api_client_for(alice).post("/v1/messages", body, format="json")


def test_an_mms_is_accepted_with_segments_counted_on_the_text_with_its_links(alice, api_project):
    link = "https://cdn.example/a.png"
    response = send(alice, {"to": "+14155550123", "body": "x" * 140, "media_urls": [link]})
    assert response.status_code == 201, response.content
    message = response.json()
    assert message["sid"].startswith("MM")
    assert (message["body"], message["media_urls"], message["num_media"]) == ("x" * 140, [link], 1)
    # 140 + a line break + 25 characters of link: two GSM-7 parts, not one.
    assert (message["encoding"], message["segments"]) == ("GSM-7", 2)
    assert SmsMessage.objects.get(sid=message["sid"]).segments == 2


def test_media_alone_go_as_their_links(alice, api_project):
    message = send(alice, {"to": "+14155550123", "media_urls": ["https://cdn.example/a.png"]}).json()
    assert (message["body"], message["segments"], message["num_media"]) == ("", 1, 1)


def test_the_gateways_part_limit_applies_to_the_text_with_links(alice, api_project):
    Connector.objects.update(max_segments=1)
    response = send(alice, {"to": "+14155550123", "body": "x" * 150, "media_urls": ["https://cdn.example/a.png"]})
    assert response.status_code == 413
    assert set(response.json()["error"]["details"]) == {"body", "media_urls"}
    assert send(alice, {"to": "+14155550123", "body": "x" * 150}).status_code == 201


@pytest.mark.parametrize(
    ("media_urls", "words"),
    [
        ("https://cdn.example/a.png", "A list"),
        (["https://cdn.example/a.png"] * 11, "At most 10"),
        (["ftp://cdn.example/a.png"], "Item 0: an absolute http or https URL"),
        (["https://cdn.example/ok.png", "javascript:alert(1)"], "Item 1"),
        (["/relative.png"], "absolute"),
        (["https://user:pw@cdn.example/a.png"], "user name or password"),
        (["https://cdn.example/a b.png"], "percent-encoded"),
        (["https://cdn.example/ä.png"], "percent-encoded"),
        (["https://cdn.example:port/a.png"], "not a valid URL"),
        (["https://cdn.example/" + "a" * 490], "at most 500"),
        ([5], "must be a string"),
    ],
)
def test_bad_media_urls_are_refused_naming_the_field_and_nothing_is_stored(alice, api_project, media_urls, words):
    response = send(alice, {"to": "+14155550123", "body": "hi", "media_urls": media_urls})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert words in error["details"]["media_urls"][0]
    assert not SmsMessage.objects.exists()


@dataclass
class GatewayStandIn:
    """Takes every request like a gateway that accepts it; keeps each one's fields."""

    base: str = ""
    fields: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def gateway_stand_in() -> Iterator[GatewayStandIn]:
    state = GatewayStandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._take(urllib.parse.urlsplit(self.path).query)

        def do_POST(self) -> None:
            self._take(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("latin-1"))

        def _take(self, form: str) -> None:
            # Latin-1 keeps every byte: Kannel's UCS-2 text is not UTF-8.
            state.fields.append(dict(urllib.parse.parse_qsl(form, keep_blank_values=True, encoding="latin-1")))
            answer = b'Success "gw-1"' if self.path.startswith("/send") else b"0: Accepted for delivery"
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def test_a_gateway_that_cannot_carry_mms_sends_the_links_after_the_text(
    alice, api_project, gateway_stand_in, monkeypatch, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the attempt is made by hand below
    monkeypatch.setenv("X", "a-long-enough-webhook-secret")
    monkeypatch.setenv("GW_USER", "fastsock")
    monkeypatch.setenv("GW_PASSWORD", "secret")
    Connector.objects.update(base_url=gateway_stand_in.base, username_env="GW_USER", password_env="GW_PASSWORD")
    links = ["https://cdn.example/a.png", "https://cdn.example/b.jpg?v=2"]
    sid = send(alice, {"to": "+14155550123", "body": "Your photos", "media_urls": links}).json()["sid"]
    assert services.sms_send_attempt(message_id=SmsMessage.objects.get(sid=sid).pk) == "sent"
    assert (
        gateway_stand_in.fields[-1]["content"]
        == "Your photos\nhttps://cdn.example/a.png\nhttps://cdn.example/b.jpg?v=2"
    )


def test_kannel_sends_the_links_too_in_the_texts_encoding(gateway_stand_in):
    request = SendRequest(
        "+33600000001", "FastSock", "Grüße 👋", "UCS-2", "https://fastsock.example/dlr?sid=MM1", "MM1",
        media_urls=("https://cdn.example/a.png",),
    )  # fmt: skip
    KannelGateway(gateway_stand_in.base, "fastsock", "secret").send(request)
    sent = gateway_stand_in.fields[-1]
    assert sent["coding"] == "2"
    assert sent["text"].encode("latin-1").decode("utf-16-be") == "Grüße 👋\nhttps://cdn.example/a.png"


# --- Inbound: media stored and shown in the room ------------------------------------------------


def test_linked_media_are_stored_and_shown_with_the_sms_to_members_only(
    connector, routed_to_alice, media_server, media_root, client_for, alice, carol, settings
):
    response = inbound(connector, media_url=[media_server.url("/photo.png"), media_server.url("/note.txt")])
    assert (response.status_code, response.content) == (200, b"ACK/Jasmin")
    message = received()
    assert message.sid.startswith("MM")
    assert (message.error_code, message.body) == ("", "Look at this")
    first, second = room_messages()
    assert (first.type, first.content, first.attachment.kind) == ("sms", "Look at this", "image")
    assert (second.type, second.content, second.attachment.content_type) == ("sms", "", "text/plain")
    assert message.chat_message_id == first.pk
    assert message.media_urls == [
        f"{settings.PUBLIC_BASE_URL}/api/v1/attachments/{first.attachment_id}",
        f"{settings.PUBLIC_BASE_URL}/api/v1/attachments/{second.attachment_id}",
    ]
    assert len(stored_files(media_root)) == 3  # the image, its thumbnail and the note
    photo = client_for(alice).get(f"/api/v1/attachments/{first.attachment_id}")
    assert (photo.status_code, photo["Content-Type"]) == (200, "image/png")
    assert client_for(carol).get(f"/api/v1/attachments/{first.attachment_id}").status_code == 404
    history = client_for(alice).get(f"/api/v1/history/room/{first.room_id}").json()
    shown = [item["attachment"]["url"] for item in history["results"] if item["attachment"]]
    assert shown == [f"/api/v1/attachments/{first.attachment_id}", f"/api/v1/attachments/{second.attachment_id}"]


def test_twilio_style_media_fields_are_read_in_their_order(connector, routed_to_alice, media_server, media_root):
    inbound(connector, MediaUrl1=media_server.url("/note.txt"), MediaUrl0=media_server.url("/photo.png"), NumMedia="2")
    assert [m.attachment.content_type for m in room_messages()] == ["image/png", "text/plain"]


def test_media_sent_as_multipart_parts_are_stored_like_uploads(
    connector, routed_to_alice, media_root, client_for, alice
):
    parts = [SimpleUploadedFile("cat.png", png_bytes(), "image/png"), SimpleUploadedFile("evil.png", HTML, "image/png")]
    inbound(connector, media=parts)
    [shown] = room_messages()[:1]
    assert (shown.attachment.content_type, shown.attachment.original_name) == ("image/png", "cat.png")
    message = received()
    assert len(message.media_urls) == 1
    assert message.error_code == "media_failed"
    assert "#2 a type that is not accepted" in message.error_message
    assert client_for(alice).get(f"/api/v1/attachments/{shown.attachment_id}").status_code == 200


def test_kannel_may_link_media_in_its_get_url(monkeypatch, number, media_server, media_root, alice):
    kannel = Connector.objects.create(
        name="kannel", kind="kannel", base_url="http://127.0.0.1:13013", webhook_secret_env="GW_SECRET",
        allowed_networks=["127.0.0.1/32"],
    )  # fmt: skip
    InboundRoute.objects.create(project=number.project, match="number", pattern=OURS, target_user=alice)
    query = urllib.parse.urlencode(
        {
            "kannel_from": PHONE,
            "kannel_to": OURS,
            "kannel_text": "hi",
            "kannel_id": "k-1",
            "media_url": media_server.url("/photo.png"),
        }
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = Client(REMOTE_ADDR="127.0.0.1").get(f"{webhooks.fixed_url(kannel, 'inbound')}&{query}")
    assert response.status_code == 200
    assert room_messages()[0].attachment.content_type == "image/png"


# --- Inbound: media that cannot be had never lose the text ---------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/endless.png", "too large"),
        ("/declared-huge.png", "too large"),
        ("/page.png", "a type that is not accepted"),
        ("/missing.png", "could not be fetched"),
        ("/to-ftp", "not an http(s) link"),
        ("/to-file", "not an http(s) link"),
    ],
)
def test_a_medium_that_cannot_be_had_is_noted_and_the_text_still_arrives(
    connector, routed_to_alice, media_server, media_root, path, reason
):
    response = inbound(connector, media_url=media_server.url(path))
    assert response.status_code == 200
    message = received()
    assert message.sid.startswith("MM")
    assert (message.media_urls, message.error_code) == ([], "media_failed")
    assert message.error_message == f"1 of 1 media not stored: #1 {reason}."
    sms, note = room_messages()
    assert (sms.type, sms.content, sms.attachment) == ("sms", "Look at this", None)
    assert note.type == "system"
    assert reason in note.content
    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []


def test_a_redirect_to_another_http_link_is_followed(connector, routed_to_alice, media_server, media_root):
    inbound(connector, media_url=media_server.url("/to-photo"))
    assert room_messages()[0].attachment.content_type == "image/png"
    assert media_server.hits["/photo.png"] == 1


def test_an_unreachable_or_stalling_media_server_is_given_up_on(
    connector, routed_to_alice, media_server, media_root, settings
):
    settings.TELECOM_MMS_FETCH_TIMEOUT_SECONDS = 1
    nobody = f"http://127.0.0.1:{free_port()}/photo.png"
    inbound(connector, media_url=[nobody, media_server.url("/stalls.png"), media_server.url("/photo.png")])
    message = received()
    assert message.error_message == "2 of 3 media not stored: #1 could not be fetched; #2 took too long to fetch."
    assert len(message.media_urls) == 1


def test_links_that_are_not_http_are_never_fetched(connector, routed_to_alice, media_root):
    inbound(connector, media_url=["file:///etc/passwd", "gopher://127.0.0.1/x", "not a link"])
    assert received().error_message == (
        "3 of 3 media not stored: #1 not an http(s) link; #2 not an http(s) link; #3 not an http(s) link."
    )


def test_media_past_the_limit_are_not_fetched(connector, routed_to_alice, media_server, media_root, settings):
    settings.TELECOM_MMS_MAX_MEDIA = 2
    links = [media_server.url("/photo.png"), media_server.url("/second.jpg"), media_server.url("/note.txt")]
    inbound(connector, media_url=links)
    assert [m.attachment.content_type for m in room_messages() if m.attachment] == ["image/png", "image/jpeg"]
    assert media_server.hits["/note.txt"] == 0
    assert received().error_message == "1 of 3 media not stored: #3 one too many."


def test_multipart_media_over_the_upload_limit_in_all_are_refused_before_they_are_read(
    connector, routed_to_alice, settings
):
    settings.UPLOAD_MAX_BYTES = 32 * KIB
    parts = [SimpleUploadedFile(f"{n}.png", png_bytes() + b"\0" * 12 * KIB, "image/png") for n in range(3)]
    response = inbound(connector, media=parts)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not SmsMessage.objects.exists()


def test_a_repeated_callback_fetches_nothing_again(connector, routed_to_alice, media_server, media_root):
    for _ in range(2):
        assert inbound(connector, media_url=media_server.url("/photo.png")).status_code == 200
    assert media_server.hits["/photo.png"] == 1
    assert SmsMessage.objects.filter(direction="inbound").count() == 1
    assert Attachment.objects.count() == 1


def wait_for(condition: Any, *, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)  # poll the condition again; the deadline above bounds the wait


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_callback_repeated_while_the_first_is_still_fetching_waits_and_fetches_nothing(
    connector, routed_to_alice, media_server, media_root
):
    url = urllib.parse.urlsplit(webhooks.fixed_url(connector, "inbound"))
    form = {"id": "mms-1", "from": PHONE, "to": OURS, "content": "hi", "media_url": media_server.url("/gate.png")}
    answers: list[int] = []

    def deliver() -> None:
        try:
            answers.append(Client(REMOTE_ADDR="127.0.0.1").post(f"{url.path}?{url.query}", form).status_code)
        finally:
            connection.close()

    first = threading.Thread(target=deliver)
    first.start()
    assert media_server.gate_requested.wait(10)
    repeat = threading.Thread(target=deliver)
    repeat.start()
    # The repeat waits on the first one's claim of the gateway's message id.
    with connection.cursor() as cursor:

        def repeat_is_waiting() -> bool:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return cursor.fetchone()[0] >= 1

        wait_for(repeat_is_waiting)
    media_server.gate_open.set()
    first.join(10)
    repeat.join(10)
    assert answers == [200, 200]
    assert media_server.hits["/gate.png"] == 1
    assert SmsMessage.objects.filter(direction="inbound").count() == 1
    assert Attachment.objects.count() == 1


def test_an_unroutable_mms_keeps_its_media(connector, number, media_server, media_root, settings):
    inbound(connector, media_url=media_server.url("/photo.png"))
    message = received()
    assert message.room is None
    [attachment] = Attachment.objects.all()
    assert message.media_urls == [f"{settings.PUBLIC_BASE_URL}/api/v1/attachments/{attachment.pk}"]
    assert attachment.uploader.username == f"sms_{PHONE.lstrip('+')}"
    assert not Message.objects.exists()


def test_an_mms_counts_as_one_received_even_when_its_media_failed(connector, routed_to_alice, media_server, media_root):
    inbound(connector, message_id="mms-1", media_url=media_server.url("/photo.png"))
    inbound(connector, message_id="mms-2", media_url=media_server.url("/missing.png"))
    inbound(connector, message_id="sms-3")
    services.usage_aggregate(day=timezone.now().date())
    usage = UsageDaily.objects.get()
    assert (usage.mms_in, usage.sms_segments_in) == (2, 3)


def test_failures_are_logged_without_the_links_query(connector, routed_to_alice, media_server, media_root, caplog):
    with caplog.at_level(logging.INFO, logger="telecom.inbound_media"):
        inbound(connector, media_url=media_server.url("/missing.png", "token=s3cr3t-media-key"))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "mms_medium_refused" in logged
    assert "/missing.png" in logged
    assert "s3cr3t-media-key" not in logged


# --- Inbound: media on S3 -------------------------------------------------------------------------


@pytest.fixture
def s3_bucket(settings, media_root):
    """Uploads on moto's S3 server on a loopback port, configured as production configures them."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"aws_access_key_id": "fastsock-test", "aws_secret_access_key": "fastsock-test-secret"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials)
    client.create_bucket(Bucket="fastsock-mms-media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "fastsock-mms-media",
                "endpoint_url": endpoint,
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
    try:
        yield client
    finally:
        server.stop()


def test_on_s3_inbound_media_go_to_the_bucket(
    connector, routed_to_alice, media_server, media_root, s3_bucket, client_for, alice, carol
):
    inbound(connector, media_url=media_server.url("/photo.png"), media=SimpleUploadedFile("n.txt", b"typed note"))
    first, second = room_messages()
    keys = {item["Key"] for item in s3_bucket.list_objects_v2(Bucket="fastsock-mms-media")["Contents"]}
    assert {first.attachment.file.name, first.attachment.thumbnail.name, second.attachment.file.name} == keys
    stored = s3_bucket.head_object(Bucket="fastsock-mms-media", Key=first.attachment.file.name)
    assert stored["ContentType"] == "image/png"
    assert stored_files(media_root) == []
    download = client_for(alice).get(f"/api/v1/attachments/{second.attachment_id}")
    assert download.status_code == 302
    assert "X-Amz-Signature=" in download["Location"]
    assert client_for(carol).get(f"/api/v1/attachments/{second.attachment_id}").status_code == 404
