"""API keys: made once, shown once, stored as a hash; and the project's derived signing secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings

KEY_PREFIX = "fsk_"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """``(key, prefix)``: ``fsk_<8 lookup characters>_<43 secret characters>``."""
    lookup = secrets.token_hex(4)
    return f"{KEY_PREFIX}{lookup}_{secrets.token_urlsafe(32)}", f"{KEY_PREFIX}{lookup}"


def prefix_of(key: str) -> str | None:
    if not key.startswith(KEY_PREFIX) or key.count("_") < 2:
        return None
    return key[: len(KEY_PREFIX) + 8]


def matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(key_hash(key), stored_hash)


def signing_secret(project_id: int, generation: int) -> str:
    """The secret that signs a project's status callbacks, derived rather than stored: nothing
    secret in the database. Rotating it is bumping the generation."""
    material = f"telecom-status-callback:{project_id}:{generation}".encode()
    return "whsec_" + hmac.new(settings.SECRET_KEY.encode(), material, hashlib.sha256).hexdigest()


def stripe_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Stripe's scheme: hex HMAC-SHA256 over ``"<timestamp>.<raw body>"``."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
