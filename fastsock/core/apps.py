from __future__ import annotations

from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def ensure_media_root() -> None:
    """Create the local upload folder at start-up so the first upload cannot fail on it."""
    if settings.STORAGES["default"]["BACKEND"] != "django.core.files.storage.FileSystemStorage":
        return
    media_root = Path(settings.MEDIA_ROOT)
    try:
        media_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"MEDIA_ROOT {media_root} cannot be created ({exc.strerror}); set MEDIA_ROOT to a writable folder."
        ) from None


class CoreConfig(AppConfig):
    name = "fastsock.core"
    label = "core"
    verbose_name = "FastSock core"

    def ready(self) -> None:
        ensure_media_root()
