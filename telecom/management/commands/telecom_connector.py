"""``manage.py telecom_connector NAME --kind … --url … --webhook-secret-env VAR …`` (CONTRACT.md).

Creates or updates a connector and prints the signed URLs to configure in the gateway. Only
the *names* of the credential variables are stored; nothing secret is printed.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator

from telecom import webhooks
from telecom.models import Connector


class Command(BaseCommand):
    help = "Create or update a gateway connector; print its signed inbound and events URLs."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument("--kind", required=True, choices=Connector.Kind.values)
        parser.add_argument("--url", required=True)
        parser.add_argument("--username-env", default="")
        parser.add_argument("--password-env", default="")
        parser.add_argument("--webhook-secret-env", required=True)
        parser.add_argument("--allow", nargs="*", default=[], metavar="CIDR")
        parser.add_argument("--priority", type=int, default=100)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            URLValidator(schemes=["http", "https"])(options["url"])
        except ValidationError:
            raise CommandError(f"--url must be an http(s) URL, not {options['url']!r}.") from None
        for network in options["allow"]:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise CommandError(f"--allow takes networks like 10.0.0.0/8 or 127.0.0.1, not {network!r}.") from None
        connector, _ = Connector.objects.update_or_create(
            name=options["name"],
            defaults={
                "kind": options["kind"],
                "base_url": options["url"],
                "username_env": options["username_env"],
                "password_env": options["password_env"],
                "webhook_secret_env": options["webhook_secret_env"],
                "allowed_networks": options["allow"],
                "priority": options["priority"],
            },
        )
        try:
            inbound, events = webhooks.fixed_url(connector, "inbound"), webhooks.fixed_url(connector, "events")
        except webhooks.WebhookRefused:
            raise CommandError(
                f"Set the environment variable {connector.webhook_secret_env} (16+ characters) to sign the URLs."
            ) from None
        self.stdout.write(
            json.dumps({"name": connector.name, "kind": connector.kind, "inbound_url": inbound, "events_url": events})
        )
