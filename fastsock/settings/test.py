"""Settings for the test suite: the same environment-driven settings, made fast and HTTP-friendly."""

import os
import tempfile

# Tests run as production does (DEBUG off) unless a test says otherwise.
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-any-deployment-000000000000")
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="fastsock-test-media-"))
os.environ.setdefault("LOG_LEVEL", "WARNING")

from .base import *  # noqa: F403
from .base import ALLOWED_HOSTS, DATABASES, RATE_LIMITS, STORAGES

ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
# Tests talk plain HTTP to the test client and to live servers on 127.0.0.1.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
# No collectstatic before tests: serve static files from the source folders.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Generous by default so that ordinary tests never trip them; rate-limit tests lower one rate.
RATE_LIMITS = dict.fromkeys(RATE_LIMITS, "10000/m")

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"fastsock-test-{os.getpid()}.sqlite3")}
