"""``Idempotency-Key`` with Stripe's semantics, scoped per project, method and path.

The first request with a key is recorded before it runs; once it has an answer, that answer is
stored and every retry with the same key and the same body gets it back (``Idempotent-Replayed:
true``). The same key with another body is a 409; so is a retry while the first is still running.
A request that fails with a server error leaves no record, so it may be retried. Keys are kept
for ``TELECOM_IDEMPOTENCY_TTL_HOURS`` (24 h, as Stripe) and then forgotten by a periodic task.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from fastsock.core.errors import ApiError, ErrorCode, invalid_field

from .models import IdempotencyRecord, Project

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 255


def _request_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def idempotent(request: Any, project: Project, produce: Callable[[], Response]) -> Response:
    key = request.META.get(HEADER)
    if key is None:
        return produce()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise invalid_field("Idempotency-Key", f"1 to {MAX_KEY_LENGTH} characters.")
    digest = _request_hash(request.data)
    scope = {"project": project, "key": key, "method": request.method, "path": request.path}
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(**scope, request_hash=digest)
    except IntegrityError:
        existing = IdempotencyRecord.objects.get(**scope)
        if existing.request_hash != digest:
            raise ApiError(
                ErrorCode.CONFLICT,
                "This Idempotency-Key was already used with a different request.",
                details={"Idempotency-Key": ["reused with another body"]},
            ) from None
        if existing.status_code is None:
            raise ApiError(
                ErrorCode.CONFLICT, "A request with this Idempotency-Key is still being processed."
            ) from None
        replay = Response(existing.response, status=existing.status_code)
        replay["Idempotent-Replayed"] = "true"
        return replay
    try:
        response = produce()
    except ApiError as error:
        # A refusal is the answer to this request: keep it, as Stripe does.
        record.status_code, record.response = error.status, error.as_payload()
        record.save(update_fields=["status_code", "response"])
        raise
    except Exception:
        record.delete()
        raise
    record.status_code, record.response = response.status_code, response.data
    record.save(update_fields=["status_code", "response"])
    return response


def idempotency_prune() -> int:
    """Forget keys older than the retention window; return how many went."""
    cutoff = timezone.now() - timedelta(hours=settings.TELECOM_IDEMPOTENCY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
