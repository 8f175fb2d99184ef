"""Configuration from the environment, checked in fresh processes as a deployment would start them."""

from __future__ import annotations

import json
import subprocess

from fastsock.core.testing import run_fresh_python

SHOW_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "pool": bool(settings.DATABASES["default"].get("OPTIONS", {}).get("pool")),
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "broker": settings.CELERY_BROKER_URL,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "storage": settings.STORAGES["default"]["BACKEND"],
    "media_root": str(settings.MEDIA_ROOT),
    "secure_cookies": settings.SESSION_COOKIE_SECURE,
    "hsts": settings.SECURE_HSTS_SECONDS,
}))
"""


def run_python(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_fresh_python([*(["-c", code] if code else []), *args], env)


def show_settings(env: dict[str, str]) -> dict:
    result = run_python(SHOW_SETTINGS, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_secret_key_and_debug_off_the_process_refuses_to_start():
    result = run_python(SHOW_SETTINGS, {"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_uses_a_development_key_and_the_embedded_services(tmp_path):
    values = show_settings({"DEBUG": "1", "MEDIA_ROOT": str(tmp_path / "media")})
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["layer"] == "channels.layers.InMemoryChannelLayer"
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["broker"] == "memory://"
    assert values["eager"] is True
    assert values["storage"] == "django.core.files.storage.FileSystemStorage"
    assert values["secure_cookies"] is False


def test_media_root_is_created_at_start_up(tmp_path):
    media_root = tmp_path / "not" / "there" / "yet"
    show_settings({"DEBUG": "1", "MEDIA_ROOT": str(media_root)})
    assert media_root.is_dir()


def test_an_unusable_media_root_stops_start_up_with_a_clear_message(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_python(SHOW_SETTINGS, {"DEBUG": "1", "MEDIA_ROOT": str(blocker / "media")})
    assert result.returncode != 0
    assert "MEDIA_ROOT" in result.stderr
    assert "cannot be created" in result.stderr


def test_urls_switch_every_part_to_the_real_services(tmp_path):
    values = show_settings(
        {
            "DEBUG": "1",
            "MEDIA_ROOT": str(tmp_path),
            "DATABASE_URL": "postgres://fastsock@127.0.0.1:5432/fastsock",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "S3_BUCKET": "uploads",
            "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        }
    )
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["pool"] is True
    assert values["layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert values["cache"] == "fastsock.core.cache.OneTripRedisCache"
    assert values["broker"] == "redis://127.0.0.1:6379/3"
    assert values["eager"] is False
    assert values["storage"] == "storages.backends.s3.S3Storage"


def test_production_settings_are_secure(tmp_path):
    values = show_settings(
        {"SECRET_KEY": "k" * 60, "DEBUG": "0", "MEDIA_ROOT": str(tmp_path), "ALLOWED_HOSTS": "chat.example.com"}
    )
    assert values["secure_cookies"] is True
    assert values["hsts"] >= 31536000


def test_check_deploy_reports_nothing_with_production_like_settings(tmp_path):
    result = run_python(
        "",
        {
            "SECRET_KEY": "a-long-random-production-key-" + "x7Qp2Zr9" * 6,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "chat.example.com",
            "PUBLIC_BASE_URL": "https://chat.example.com",
            "MEDIA_ROOT": str(tmp_path),
        },
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_bad_boolean_is_named(tmp_path):
    result = run_python(SHOW_SETTINGS, {"DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_with_nothing_set_the_embedded_default_runs_in_development_mode(tmp_path):
    values = show_settings({"MEDIA_ROOT": str(tmp_path)})
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["secure_cookies"] is False


def test_a_configured_database_without_a_secret_key_refuses_to_start():
    result = run_python(SHOW_SETTINGS, {"DATABASE_URL": "postgres://fastsock@127.0.0.1:5432/fastsock"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
