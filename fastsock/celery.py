"""The Celery app: ``celery -A fastsock worker`` finds every app's ``tasks.py``."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastsock.settings.base")

app = Celery("fastsock")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
