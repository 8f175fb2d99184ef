"""``manage.py telecom_number E164 --project ID --connector NAME [--route-user U | --route-room ID]
[--voice-flow FLOW_ID]``."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from chat.models import Room
from telecom.models import CallFlow, Connector, InboundRoute, PhoneNumber, Project
from telecom.services import E164


class Command(BaseCommand):
    help = "Create or update a project's number, bound to a connector, with an optional inbound route."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("e164")
        parser.add_argument("--project", required=True, type=int)
        parser.add_argument("--connector", required=True)
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--route-user")
        target.add_argument("--route-room", type=int)
        parser.add_argument("--voice-flow", type=int, help="a call flow of the project: calls to the number run it")

    def handle(self, *args: Any, **options: Any) -> None:
        e164 = options["e164"]
        if not E164.match(e164):
            raise CommandError(f"{e164!r} is not an E.164 number like +14155550123.")
        project = Project.objects.filter(pk=options["project"]).first()
        connector = Connector.objects.filter(name=options["connector"]).first()
        if project is None or connector is None:
            raise CommandError("No such project." if project is None else "No such connector.")
        defaults: dict[str, Any] = {"project": project}
        if options["voice_flow"] is not None:
            flow = CallFlow.objects.filter(pk=options["voice_flow"], project=project).first()
            if flow is None:
                raise CommandError(f"No call flow {options['voice_flow']} in project {project.pk}.")
            defaults.update(voice=True, voice_flow=flow)
        number, _ = PhoneNumber.objects.update_or_create(e164=e164, defaults=defaults)
        number.connectors.add(connector)
        route = None
        if options["route_user"] or options["route_room"]:
            user = room = None
            if options["route_user"]:
                user = User.objects.filter(username=options["route_user"]).first()
                if user is None:
                    raise CommandError(f"No user {options['route_user']!r}.")
            else:
                room = Room.objects.filter(pk=options["route_room"]).first()
                if room is None:
                    raise CommandError(f"No room {options['route_room']}.")
            InboundRoute.objects.update_or_create(
                project=project,
                match=InboundRoute.Match.NUMBER,
                pattern=e164,
                defaults={"target_user": user, "target_room": room},
            )
            route = {"user": user.username} if user else {"room": room.pk}
        output = {"number": e164, "project": project.pk, "connector": connector.name, "route": route}
        if number.voice_flow_id is not None:
            output["voice_flow"] = number.voice_flow_id
        self.stdout.write(json.dumps(output))
