"""Telecom back office: SMS (projects, keys, connectors, numbers, routes, messages) and voice.

Importing the modules registers their ModelAdmins with the default admin site.
"""

from . import sms, voice  # noqa: F401
