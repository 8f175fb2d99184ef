"""Group calls against a real Janus (Debian's ``janus``), started here on 127.0.0.1.

Janus runs with token authentication, a random admin secret and a random VideoRoom admin key,
only the VideoRoom plugin and the HTTP transport. FastSock's real endpoint and services drive
it; Janus itself is asked whether the tokens it handed out work.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from calls.janus import JanusClient, JanusError, JanusRequestError
from calls.models import Call
from fastsock.core.testing import api_client_for, free_port, skip_or_fail, stop_process, system_parts_required
from tests.janus import RunningJanus, start_janus

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def running_janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningJanus]:
    if shutil.which("janus") is None:
        skip_or_fail("needs Janus (apt-get install janus)", required=system_parts_required())
    janus = start_janus(tmp_path_factory.mktemp("janus"))
    try:
        yield janus
    finally:
        stop_process(janus.process, grace_seconds=10)


@pytest.fixture
def janus(running_janus: RunningJanus, settings: Any) -> JanusClient:
    """FastSock configured for the running Janus; the client the tests check Janus with."""
    settings.JANUS_URL = running_janus.url
    settings.JANUS_PUBLIC_URL = running_janus.url
    settings.JANUS_ADMIN_URL = running_janus.admin_url
    settings.JANUS_ADMIN_SECRET = running_janus.admin_secret
    settings.JANUS_VIDEOROOM_ADMIN_KEY = running_janus.admin_key
    settings.STUN_URLS, settings.TURN_URLS = [], []
    return running_janus.client()


@pytest.fixture
def team(alice: Any, bob: Any, make_user: Any) -> Any:
    from chat import services

    dave = make_user("dave")
    return services.room_create_group(creator=alice, name="Team", member_ids=[bob.pk, dave.pk])


def join(user: Any, room_id: int) -> dict[str, Any]:
    response = api_client_for(user).post(f"/api/v1/calls/group/{room_id}/join")
    assert response.status_code == 200, response.content
    return response.json()


def leave(user: Any, room_id: int) -> None:
    response = api_client_for(user).post(f"/api/v1/calls/group/{room_id}/leave")
    assert response.status_code == 204, response.content


def token_works(janus: JanusClient, token: str) -> bool:
    """Whether Janus itself lets ``token`` open a session and attach to the VideoRoom."""
    try:
        session = janus.session_create(token=token)
        janus.attach(session, token=token)
    except JanusRequestError as error:
        if error.code != 403:
            raise
        return False
    janus.session_destroy(session, token=token)
    return True


def publisher_join(janus: JanusClient, sfu: dict[str, Any]) -> dict[str, Any]:
    """Join the VideoRoom as a browser would with the join details; return the plugin's answer."""
    token = sfu["token"]
    session = janus.session_create(token=token)
    handle = janus.attach(session, token=token)
    body = {"request": "join", "ptype": "publisher", "room": sfu["room"], "pin": sfu["pin"], "token": token}
    message = {"janus": "message", "token": token, "transaction": "join", "body": body}
    request = urllib.request.Request(f"{janus.url}/{session}/{handle}", data=json.dumps(message).encode())
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["janus"] == "ack"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{janus.url}/{session}?token={token}&maxev=1", timeout=35) as response:
            event = json.loads(response.read())
        if event.get("janus") == "event":
            return event["plugindata"]["data"]
    raise AssertionError("no answer to the VideoRoom join")


def events_of(user: Any, *names: str) -> list[tuple[str, dict[str, Any]]]:
    from fastsock.core.models import UserEvent

    rows = UserEvent.objects.filter(user=user, event__in=names).order_by("seq")
    return [(row.event, row.data) for row in rows]


def test_join_creates_the_janus_room_and_gives_a_token_janus_accepts(janus, team, alice):
    answer = join(alice, team.pk)

    sfu = answer["sfu"]
    assert sfu["server"] == janus.url
    assert janus.room_exists(sfu["room"])
    assert sfu["room"] in [room["room"] for room in janus.room_list()]
    assert token_works(janus, sfu["token"])
    assert publisher_join(janus, sfu)["videoroom"] == "joined"
    assert len(janus.room_participants(sfu["room"])) == 1
    assert answer["call"]["state"] == "active"
    assert answer["call"]["participant_ids"] == [alice.pk]
    call = Call.objects.get(pk=answer["call"]["id"])
    assert (call.kind, call.sfu_room_id) == (Call.Kind.GROUP, sfu["room"])
    assert call.sfu_room_secret not in json.dumps(answer)


def test_janus_refuses_requests_without_a_token_or_with_a_made_up_one(janus, team, alice):
    join(alice, team.pk)

    assert not token_works(janus, secrets.token_urlsafe(32))
    with pytest.raises(JanusRequestError) as refused:
        janus._call(janus.url, {"janus": "create"}, what="create")
    assert refused.value.code == 403


def test_a_token_cannot_publish_in_another_rooms_call(janus, team, alice, carol):
    from chat import services

    other = services.room_create_group(creator=carol, name="Elsewhere")
    theirs = join(carol, other.pk)["sfu"]
    mine = join(alice, team.pk)["sfu"]

    refused = publisher_join(janus, {**mine, "room": theirs["room"], "pin": theirs["pin"]})

    assert refused["error_code"] == 433  # not on that room's allowed list


def test_a_second_member_joins_the_same_room(janus, team, alice, bob, make_user):
    first = join(alice, team.pk)

    second = join(bob, team.pk)

    assert second["sfu"]["room"] == first["sfu"]["room"]
    assert second["sfu"]["token"] != first["sfu"]["token"]
    assert second["call"]["participant_ids"] == [alice.pk, bob.pk]
    assert token_works(janus, second["sfu"]["token"])
    assert Call.objects.filter(room=team).count() == 1


def test_joining_again_keeps_the_token_and_extends_it(janus, team, alice):
    first = join(alice, team.pk)

    again = join(alice, team.pk)

    assert again["sfu"]["token"] == first["sfu"]["token"]
    assert again["sfu"]["expires_at"] >= first["sfu"]["expires_at"]
    assert [name for name, _ in events_of(alice, "call.joined")] == ["call.joined"]


def test_a_non_member_gets_404_from_fastsock(janus, team, carol):
    response = api_client_for(carol).post(f"/api/v1/calls/group/{team.pk}/join")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not Call.objects.filter(room=team).exists()


def test_leaving_revokes_the_token_and_the_last_leave_destroys_the_room(janus, team, alice, bob):
    first = join(alice, team.pk)
    second = join(bob, team.pk)
    room = first["sfu"]["room"]

    leave(bob, team.pk)

    assert not token_works(janus, second["sfu"]["token"])
    assert token_works(janus, first["sfu"]["token"])
    assert janus.room_exists(room)

    leave(alice, team.pk)

    assert not token_works(janus, first["sfu"]["token"])
    assert not janus.room_exists(room)
    call = Call.objects.get(pk=first["call"]["id"])
    assert (call.state, call.outcome, call.end_reason) == (Call.State.ENDED, Call.Outcome.COMPLETED, "empty")


def test_removing_a_member_from_the_chat_room_revokes_their_token(janus, team, alice, bob):
    from chat import selectors, services

    join(alice, team.pk)
    bobs = join(bob, team.pk)["sfu"]["token"]

    services.room_member_remove(actor=selectors.membership_for(room_id=team.pk, user=alice), user_id=bob.pk)

    assert not token_works(janus, bobs)
    left = events_of(alice, "call.left")
    assert [(data["user_id"], data["reason"]) for _, data in left] == [(bob.pk, "removed")]
    assert events_of(bob, "call.left") == []


def test_members_see_the_calls_events_and_others_do_not(janus, team, alice, bob, carol, make_user):
    join(alice, team.pk)
    join(bob, team.pk)
    leave(bob, team.pk)
    leave(alice, team.pk)

    from accounts.models import User

    dave = User.objects.get(username="dave")
    seen = [
        (name, data.get("user_id"))
        for name, data in events_of(dave, "call.started", "call.joined", "call.left", "call.ended")
    ]
    assert seen == [
        ("call.started", None),
        ("call.joined", alice.pk),
        ("call.joined", bob.pk),
        ("call.left", bob.pk),
        ("call.left", alice.pk),
        ("call.ended", None),
    ]
    ended = events_of(dave, "call.ended")[0][1]["call"]
    assert (ended["state"], ended["outcome"], ended["participant_ids"]) == ("ended", "completed", [])
    assert events_of(carol, "call.started", "call.joined", "call.left", "call.ended") == []


def test_a_call_whose_janus_room_is_gone_is_ended_and_a_new_one_starts(janus, team, alice, bob):
    first = join(alice, team.pk)
    call = Call.objects.get(pk=first["call"]["id"])
    janus.room_destroy(room=call.sfu_room_id, secret=call.sfu_room_secret)  # as a Janus restart would

    second = join(bob, team.pk)

    assert second["call"]["id"] != call.pk
    assert janus.room_exists(second["sfu"]["room"])
    call.refresh_from_db()
    assert (call.state, call.end_reason) == (Call.State.ENDED, "sfu_lost")


def test_fastsock_answers_503_when_janus_does_not(janus, team, alice, settings):
    settings.JANUS_ADMIN_URL = f"http://127.0.0.1:{free_port()}/admin"

    response = api_client_for(alice).post(f"/api/v1/calls/group/{team.pk}/join")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert settings.JANUS_ADMIN_SECRET not in response.content.decode()


def test_a_wrong_admin_secret_is_a_janus_error_without_the_secret(janus, running_janus):
    wrong = JanusClient(url=janus.url, admin_url=janus.admin_url, admin_secret="nope-" * 4, videoroom_admin_key="x")

    with pytest.raises(JanusError) as refused:
        wrong.add_token("some-token")

    assert "nope-" not in str(refused.value)
    assert running_janus.admin_secret not in repr(janus)
