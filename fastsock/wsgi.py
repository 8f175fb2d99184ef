"""WSGI entry point, for tools that want one; FastSock itself is served by Daphne (ASGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastsock.settings.base")

application = get_wsgi_application()
