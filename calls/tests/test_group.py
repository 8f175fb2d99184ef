"""Group-call services with Janus faked at the HTTP boundary (``calls.janus.post_json``).

What Janus itself does with the tokens and rooms is tested against a real Janus in
tests/test_janus.py; these tests cover what is hard to make a real Janus do: failures at each
step, races between joins, expiry, and deletions.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from calls import group, janus
from calls.models import Call, CallEvent, CallParticipant
from chat import selectors, services
from fastsock.core.models import UserEvent
from fastsock.core.testing import api_client_for

pytestmark = pytest.mark.django_db(transaction=True)

JANUS_URL = "http://janus.test/janus"
ADMIN_URL = "http://janus.test/admin"


class FakeJanus:
    """Janus's admin API as FastSock uses it: tokens and VideoRoom rooms, kept in memory."""

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.rooms: dict[int, dict[str, Any]] = {}
        self.down = False
        self.requests: list[str] = []
        self.on_create: Any = None

    def __call__(self, url: str, body: dict[str, Any], *, timeout: float, what: str) -> dict[str, Any]:
        if self.down:
            raise janus.JanusUnavailableError(f"Janus at {url} did not answer {what}: connection refused")
        assert url == ADMIN_URL
        assert body["admin_secret"] == "admin-secret"
        request = body["janus"]
        self.requests.append(request if request != "message_plugin" else body["request"]["request"])
        if request == "add_token":
            assert body["plugins"] == [janus.VIDEOROOM]
            self.tokens.add(body["token"])
            return {"janus": "success", "data": {"plugins": body["plugins"]}}
        if request == "remove_token":
            if body["token"] not in self.tokens:
                return {"janus": "error", "error": {"code": 490, "reason": "Error removing token"}}
            self.tokens.discard(body["token"])
            return {"janus": "success"}
        return {"janus": "success", "response": self._videoroom(body["request"])}

    def _videoroom(self, request: dict[str, Any]) -> dict[str, Any]:
        room = self.rooms.get(request.get("room"))
        kind = request["request"]
        if kind == "create":
            assert request["admin_key"] == "admin-key"
            assert request["is_private"] is False
            if self.on_create is not None and (refusal := self.on_create()) is not None:
                return refusal
            self.rooms[request["room"]] = {**request, "allowed": set(request["allowed"])}
            return {"videoroom": "created", "room": request["room"]}
        if room is None:
            return {"videoroom": "event", "error_code": 426, "error": f"No such room ({request.get('room')})"}
        if kind == "exists":
            return {"videoroom": "success", "exists": True}
        if request["secret"] != room["secret"]:
            return {"videoroom": "event", "error_code": 433, "error": "Unauthorized (wrong secret)"}
        if kind == "allowed":
            change = set(request["allowed"])
            room["allowed"] = room["allowed"] | change if request["action"] == "add" else room["allowed"] - change
            return {"videoroom": "success", "allowed": sorted(room["allowed"])}
        if kind == "destroy":
            del self.rooms[request["room"]]
            return {"videoroom": "destroyed"}
        raise AssertionError(f"unexpected request {kind}")


@pytest.fixture
def fake_janus(monkeypatch: pytest.MonkeyPatch, settings: Any) -> FakeJanus:
    settings.JANUS_URL = settings.JANUS_PUBLIC_URL = JANUS_URL
    settings.JANUS_ADMIN_URL = ADMIN_URL
    settings.JANUS_ADMIN_SECRET = "admin-secret"
    settings.JANUS_VIDEOROOM_ADMIN_KEY = "admin-key"
    settings.STUN_URLS, settings.TURN_URLS = ["stun:stun.example.com:3478"], []
    fake = FakeJanus()
    monkeypatch.setattr(janus, "post_json", fake)
    return fake


@pytest.fixture
def team(alice: Any, bob: Any) -> Any:
    return services.room_create_group(creator=alice, name="Team", member_ids=[bob.pk])


def events(user: Any) -> list[tuple[str, dict[str, Any]]]:
    rows = UserEvent.objects.filter(user=user, event__startswith="call.").order_by("seq")
    return [(row.event, row.data) for row in rows]


def test_the_join_answer_has_what_a_browser_needs_to_enter(fake_janus, team, alice):
    response = api_client_for(alice).post(f"/api/v1/calls/group/{team.pk}/join")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    room = fake_janus.rooms[body["sfu"]["room"]]
    assert body["sfu"]["server"] == JANUS_URL
    assert body["sfu"]["pin"] == room["pin"]
    assert body["sfu"]["token"] in fake_janus.tokens
    assert body["sfu"]["token"] in room["allowed"]
    assert body["sfu"]["ice_servers"] == [{"urls": ["stun:stun.example.com:3478"]}]
    assert room["publishers"] == 16
    assert body["call"]["kind"] == "group"
    assert room["secret"] not in response.content.decode()


def test_anonymous_callers_get_401(fake_janus, team, api_client):
    assert api_client.post(f"/api/v1/calls/group/{team.pk}/join").status_code == 401


def test_a_non_member_gets_404_and_janus_is_not_asked(fake_janus, team, carol):
    response = api_client_for(carol).post(f"/api/v1/calls/group/{team.pk}/join")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert fake_janus.requests == []


def test_joins_are_rate_limited(fake_janus, team, alice, rate):
    rate("calls.group.user", "1/m")
    client = api_client_for(alice)

    assert client.post(f"/api/v1/calls/group/{team.pk}/join").status_code == 200
    assert client.post(f"/api/v1/calls/group/{team.pk}/join").status_code == 429


def test_group_calls_are_unavailable_without_janus_settings(fake_janus, team, alice, settings):
    settings.JANUS_ADMIN_SECRET = ""

    response = api_client_for(alice).post(f"/api/v1/calls/group/{team.pk}/join")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"


def test_a_janus_that_fails_to_create_the_room_leaves_nothing_behind(fake_janus, team, alice):
    fake_janus.on_create = lambda: {"videoroom": "event", "error_code": 499, "error": "Unknown error"}

    with pytest.raises(group.ApiError) as failed:
        group.group_call_join(user=alice, room_id=team.pk)

    assert failed.value.status == 503
    assert not Call.objects.exists()
    assert fake_janus.tokens == set()


def test_a_janus_that_does_not_answer_is_a_503(fake_janus, team, alice):
    fake_janus.down = True

    response = api_client_for(alice).post(f"/api/v1/calls/group/{team.pk}/join")

    assert response.status_code == 503
    assert "admin-secret" not in response.content.decode()
    assert not Call.objects.exists()


def test_a_join_that_fails_after_janus_prepared_the_room_undoes_it(fake_janus, team, alice, monkeypatch):
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("database trouble")

    monkeypatch.setattr(group, "_notify", broken)

    with pytest.raises(RuntimeError):
        group.group_call_join(user=alice, room_id=team.pk)

    assert not Call.objects.exists()
    assert fake_janus.rooms == {}
    assert fake_janus.tokens == set()


def test_a_join_racing_another_that_starts_the_call_first_takes_a_seat_in_that_call(fake_janus, team, alice, bob):
    def bob_starts_first() -> None:
        fake_janus.on_create = None
        group.group_call_join(user=bob, room_id=team.pk)

    fake_janus.on_create = bob_starts_first

    seat = group.group_call_join(user=alice, room_id=team.pk)

    call = Call.objects.get()
    assert seat.call == call
    assert not seat.started
    assert list(fake_janus.rooms) == [call.sfu_room_id]  # alice's prepared room is gone
    assert seat.participant.sfu_token in fake_janus.rooms[call.sfu_room_id]["allowed"]
    assert group.live_participant_ids(call) == [bob.pk, alice.pk]


def test_the_first_join_starts_the_call_and_members_hear_of_it(fake_janus, team, alice, bob):
    seat = group.group_call_join(user=alice, room_id=team.pk)

    assert seat.started
    assert [name for name, _ in events(bob)] == ["call.started", "call.joined"]
    started, joined = (data for _, data in events(bob))
    assert started["call"]["participant_ids"] == []
    assert joined == {"call": {**joined["call"], "participant_ids": [alice.pk]}, "user_id": alice.pk}
    assert list(CallEvent.objects.values_list("kind", flat=True)) == ["started", "joined"]


def test_leaving_a_call_one_is_not_in_does_nothing(fake_janus, team, alice):
    response = api_client_for(alice).post(f"/api/v1/calls/group/{team.pk}/leave")

    assert response.status_code == 204
    assert fake_janus.requests == []


def test_the_last_leave_ends_the_call_and_destroys_the_room(fake_janus, team, alice, bob):
    group.group_call_join(user=alice, room_id=team.pk)
    group.group_call_join(user=bob, room_id=team.pk)

    group.group_call_leave(user=alice, room_id=team.pk)
    group.group_call_leave(user=bob, room_id=team.pk)

    call = Call.objects.get()
    assert (call.state, call.outcome, call.end_reason) == ("ended", "completed", "empty")
    assert fake_janus.rooms == {}
    assert fake_janus.tokens == set()
    assert [name for name, _ in events(alice)][-3:] == ["call.left", "call.left", "call.ended"]


def test_ending_a_call_revokes_every_token_and_destroys_the_room(fake_janus, team, alice, bob):
    seat = group.group_call_join(user=alice, room_id=team.pk)
    group.group_call_join(user=bob, room_id=team.pk)

    group.group_call_end(call=seat.call, ended_by=alice)

    assert seat.call.state == Call.State.ENDED
    assert not CallParticipant.objects.filter(left_at__isnull=True).exists()
    assert fake_janus.tokens == set()
    assert fake_janus.rooms == {}
    assert events(bob)[-1][0] == "call.ended"


def test_seats_not_renewed_before_their_tokens_expire_are_emptied_by_the_sweep(fake_janus, team, alice, bob):
    group.group_call_join(user=alice, room_id=team.pk)
    group.group_call_join(user=bob, room_id=team.pk)
    CallParticipant.objects.filter(user=bob).update(token_expires_at=timezone.now() - timedelta(seconds=1))

    assert group.group_calls_sweep() == 1

    assert group.live_participant_ids(Call.objects.get()) == [alice.pk]
    assert events(alice)[-1][1]["reason"] == "expired"
    assert len(fake_janus.tokens) == 1


def test_a_member_removed_from_the_room_loses_their_seat_and_token(fake_janus, team, alice, bob):
    group.group_call_join(user=alice, room_id=team.pk)
    bobs = group.group_call_join(user=bob, room_id=team.pk).participant.sfu_token

    services.room_member_remove(actor=selectors.membership_for(room_id=team.pk, user=alice), user_id=bob.pk)

    assert bobs not in fake_janus.tokens
    assert bobs not in next(iter(fake_janus.rooms.values()))["allowed"]
    assert [name for name, _ in events(bob)][-1] == "call.joined"  # nothing after removal


def test_the_last_member_leaving_the_chat_room_ends_its_call(fake_janus, team, alice, bob):
    group.group_call_join(user=bob, room_id=team.pk)

    services.room_member_remove(actor=selectors.membership_for(room_id=team.pk, user=bob), user_id=bob.pk)

    assert Call.objects.get().state == Call.State.ENDED
    assert fake_janus.rooms == {}


def test_deleting_the_chat_room_cleans_up_its_live_call_in_janus(fake_janus, team, alice, bob):
    group.group_call_join(user=alice, room_id=team.pk)
    group.group_call_join(user=bob, room_id=team.pk)

    team.delete()

    assert fake_janus.rooms == {}
    assert fake_janus.tokens == set()
