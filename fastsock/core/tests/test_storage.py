"""S3 settings switch uploads to django-storages' S3 backend, checked against a local S3 server."""

from __future__ import annotations

import json

import boto3
import pytest

from fastsock.core.testing import free_port, run_fresh_python

SAVE_AND_FETCH = """
import json, urllib.request, django
from django.core.files.base import ContentFile
django.setup()
from django.core.files.storage import default_storage
name = default_storage.save("uploads/hello.txt", ContentFile(b"hello from fastsock"))
url = default_storage.url(name)
with urllib.request.urlopen(url, timeout=10) as response:
    body = response.read().decode()
print(json.dumps({"name": name, "url": url, "body": body, "backend": type(default_storage._wrapped).__name__}))
"""


@pytest.fixture
def s3_server():
    """Moto's S3-compatible server on a free loopback port (MinIO speaks the same API)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_uploads_go_to_the_bucket_and_come_back_through_signed_urls(s3_server, tmp_path):
    credentials = {"aws_access_key_id": "fastsock-test", "aws_secret_access_key": "fastsock-test-secret"}
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **credentials).create_bucket(
        Bucket="fastsock-uploads"
    )
    env = {
        "DEBUG": "1",
        "MEDIA_ROOT": str(tmp_path / "unused"),
        "S3_BUCKET": "fastsock-uploads",
        "S3_ENDPOINT_URL": s3_server,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": credentials["aws_access_key_id"],
        "S3_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
    }
    result = run_fresh_python(["-c", SAVE_AND_FETCH], env)
    assert result.returncode == 0, result.stderr
    saved = json.loads(result.stdout.strip().splitlines()[-1])
    assert saved["backend"] == "S3Storage"
    assert saved["body"] == "hello from fastsock"
    assert saved["url"].startswith(f"{s3_server}/fastsock-uploads/uploads/hello")
    assert "X-Amz-Signature=" in saved["url"]
    assert "X-Amz-Expires=300" in saved["url"]
    objects = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **credentials).list_objects_v2(
        Bucket="fastsock-uploads"
    )
    assert [item["Key"] for item in objects["Contents"]] == [saved["name"]]
    assert not (tmp_path / "unused").exists(), "with S3 configured nothing is written to local disk"
