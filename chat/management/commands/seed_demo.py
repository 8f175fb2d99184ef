"""Seed demo people and rooms so a fresh install has someone to talk to."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from chat import services as chat_services
from chat.models import Room

DEMO_PASSWORD = "fastsock-demo"  # noqa: S105 - public on purpose; refused with DEBUG off
DEMO_USERS = [
    ("alice", "Alice Liddell", "Curiouser and curiouser"),
    ("bob", "Bob Builder", "Can we fix it?"),
    ("carol", "Carol Danvers", "Higher, further, faster"),
]
DEMO_GROUP_NAME = "Demo team"


class Command(BaseCommand):
    help = "Create the demo users alice, bob and carol, a group room and a direct room (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even with DEBUG off (the demo password is public: never on a real deployment).",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("Refusing to create users with a public password while DEBUG is off.")
        users: dict[str, User] = {}
        created: list[str] = []
        for username, display_name, status_message in DEMO_USERS:
            user, was_created = User.objects.get_or_create(
                username=username,
                defaults={"display_name": display_name, "status_message": status_message},
            )
            if was_created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
                created.append(username)
            users[username] = user
        group = Room.objects.filter(kind=Room.Kind.GROUP, name=DEMO_GROUP_NAME).first()
        if group is None:
            group = chat_services.room_create_group(
                creator=users["alice"],
                name=DEMO_GROUP_NAME,
                member_ids=[users["bob"].pk, users["carol"].pk],
            )
        direct, _ = chat_services.direct_room_get_or_create(user=users["alice"], other=users["bob"])
        self.stdout.write(
            json.dumps(
                {
                    "users": sorted(users),
                    "created": created,
                    "password": DEMO_PASSWORD,
                    "group_room": group.pk,
                    "direct_room": direct.pk,
                }
            )
        )
