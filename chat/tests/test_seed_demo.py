import json
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from chat.models import Room

pytestmark = pytest.mark.django_db


def seed() -> dict:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return json.loads(out.getvalue())


def test_seed_demo_creates_users_and_rooms_once(settings):
    settings.DEBUG = True
    first = seed()
    second = seed()
    assert first["created"] == ["alice", "bob", "carol"]
    assert second["created"] == []
    assert first["group_room"] == second["group_room"]
    assert first["direct_room"] == second["direct_room"]
    assert Room.objects.count() == 2
    assert authenticate(username="carol", password=first["password"]) is not None
    group = Room.objects.get(pk=first["group_room"])
    assert sorted(group.members.values_list("username", flat=True)) == ["alice", "bob", "carol"]


def test_seed_demo_refuses_a_production_deployment(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo", stdout=StringIO())
