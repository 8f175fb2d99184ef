"""The rendered speech Asterisk fetches for ``say`` steps (see telecom/tts.py).

Public on purpose: Asterisk's media cache sends no credentials. An address is a keyed digest of
the words, so it cannot be guessed from a text, and only speech that was rendered exists.
"""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from fastsock.core.errors import ErrorCode, error_payload

from . import tts


@require_safe
def tts_audio(request: HttpRequest, digest: str) -> HttpResponse:
    """Stream one rendered WAV; it never changes, so it may be cached for good."""
    stored = tts.open_rendered(digest)
    if stored is None:
        return JsonResponse(error_payload(ErrorCode.NOT_FOUND, "No such audio."), status=404)
    if request.headers.get("If-None-Match") == f'"{digest}"':
        stored.close()
        response: HttpResponse = HttpResponse(status=304)
    else:
        response = FileResponse(stored, content_type="audio/wav")
    response["ETag"] = f'"{digest}"'
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
