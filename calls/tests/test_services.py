"""The calls services outside a socket: what the sweeper finishes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Call
from calls.services import calls_sweep
from chat import services as chat_services

pytestmark = pytest.mark.django_db


def test_the_sweeper_ends_calls_that_rang_out_with_no_process_left_to_notice(alice, bob):
    room = chat_services.direct_room_get_or_create(user=alice, other=bob)[0]
    call = Call.objects.create(room=room, caller=alice, callee=bob, ring_deadline=timezone.now() - timedelta(seconds=1))
    fresh = Call.objects.create(room=room, caller=bob, callee=alice, ring_deadline=timezone.now() + timedelta(hours=1))
    assert calls_sweep() == 1
    call.refresh_from_db()
    fresh.refresh_from_db()
    assert (call.state, call.outcome) == (Call.State.ENDED, Call.Outcome.UNANSWERED)
    assert fresh.state == Call.State.RINGING


def test_call_history_per_room_is_for_members_and_per_user_covers_their_calls(alice, bob, carol):
    from fastsock.core.testing import api_client_for

    room = chat_services.direct_room_get_or_create(user=alice, other=bob)[0]
    call = Call.objects.create(room=room, caller=alice, callee=bob, state=Call.State.ENDED, outcome="missed")
    call.events.create(kind="invited", user=alice, data={"media": "video"})
    other = chat_services.direct_room_get_or_create(user=carol, other=bob)[0]
    Call.objects.create(room=other, caller=carol, callee=bob, state=Call.State.ENDED, outcome="rejected")

    page = api_client_for(alice).get(f"/api/v1/calls?room_id={room.pk}").json()
    [listed] = page["results"]
    assert listed["id"] == call.pk
    assert listed["outcome"] == "missed"
    assert listed["caller"]["username"] == "alice"
    assert [step["kind"] for step in listed["timeline"]] == ["invited"]
    assert api_client_for(carol).get(f"/api/v1/calls?room_id={room.pk}").status_code == 404
    assert [c["outcome"] for c in api_client_for(bob).get("/api/v1/calls").json()["results"]] == [
        "rejected",
        "missed",
    ]
    assert [c["id"] for c in api_client_for(alice).get("/api/v1/calls").json()["results"]] == [call.pk]
    assert api_client_for(bob).get("/api/v1/calls?limit=1").json()["has_more"] is True
    assert api_client_for(bob).get("/api/v1/calls?room_id=abc").status_code == 400
