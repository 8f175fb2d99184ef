"""Every room-scoped chat endpoint x {owner, member, non-member, anonymous}.

The owner (alice) created the group; bob is a plain member; carol is in no room with them.
A non-member gets exactly what a missing room gets (404), so nobody learns which rooms exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from chat import selectors, services
from fastsock.core.testing import api_client_for

pytestmark = pytest.mark.django_db


@dataclass
class World:
    room_id: int
    alice_message_id: int
    bob_message_id: int
    dave_id: int
    bob_id: int


@pytest.fixture
def world(alice, bob, carol, make_user) -> World:
    dave = make_user("dave")
    room = services.room_create_group(creator=alice, name="Team", member_ids=[bob.pk, dave.pk])
    alice_membership = selectors.membership_for(room_id=room.pk, user=alice)
    bob_membership = selectors.membership_for(room_id=room.pk, user=bob)
    alice_message, _ = services.message_send(membership=alice_membership, content="from alice")
    bob_message, _ = services.message_send(membership=bob_membership, content="from bob")
    services.reaction_add(membership=alice_membership, message=alice_message, emoji="👍")
    services.reaction_add(membership=bob_membership, message=alice_message, emoji="👍")
    return World(room.pk, alice_message.pk, bob_message.pk, dave.pk, bob.pk)


ROLES = ["owner", "member", "non_member", "anonymous"]

# (method, path, body, {role: expected status})
CASES: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = [
    ("get", "/api/v1/rooms/{room}", None, {"owner": 200, "member": 200}),
    ("patch", "/api/v1/rooms/{room}", {"name": "Renamed"}, {"owner": 200, "member": 403}),
    ("patch", "/api/v1/rooms/{room}", {"notification_level": "mentions"}, {"owner": 200, "member": 200}),
    ("get", "/api/v1/rooms/{room}/members", None, {"owner": 200, "member": 200}),
    ("post", "/api/v1/rooms/{room}/members", {"user_id": "{carol}"}, {"owner": 201, "member": 403}),
    ("delete", "/api/v1/rooms/{room}/members/{dave}", None, {"owner": 204, "member": 403}),
    ("patch", "/api/v1/rooms/{room}/members/{bob}", {"role": "admin"}, {"owner": 200, "member": 403}),
    ("post", "/api/v1/rooms/{room}/messages", {"content": "hello"}, {"owner": 201, "member": 201}),
    ("post", "/api/v1/rooms/{room}/read", {}, {"owner": 200, "member": 200}),
    ("get", "/api/v1/history/room/{room}", None, {"owner": 200, "member": 200}),
    ("get", "/api/v1/messages/{alice_message}", None, {"owner": 200, "member": 200}),
    ("patch", "/api/v1/messages/{alice_message}", {"content": "edited"}, {"owner": 200, "member": 403}),
    ("delete", "/api/v1/messages/{alice_message}", None, {"owner": 200, "member": 403}),
    ("delete", "/api/v1/messages/{bob_message}", None, {"owner": 200, "member": 200}),
    ("get", "/api/v1/messages/{alice_message}/edits", None, {"owner": 200, "member": 200}),
    ("post", "/api/v1/messages/{alice_message}/reactions", {"emoji": "🎉"}, {"owner": 201, "member": 201}),
    ("delete", "/api/v1/messages/{alice_message}/reactions/👍", None, {"owner": 200, "member": 200}),
    ("get", "/api/v1/messages/{alice_message}/receipts", None, {"owner": 200, "member": 200}),
    ("get", "/api/v1/search?q=alice&room_id={room}", None, {"owner": 200, "member": 200}),
]


def _fill(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, str):
        filled = template.format(**values)
        return int(filled) if template.startswith("{") and filled.isdigit() else filled
    if isinstance(template, dict):
        return {key: _fill(value, values) for key, value in template.items()}
    return template


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "expected"), CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_room_scoped_endpoint_answers_each_role(world, alice, bob, carol, role, method, path, body, expected):
    values = {
        "room": world.room_id,
        "alice_message": world.alice_message_id,
        "bob_message": world.bob_message_id,
        "dave": world.dave_id,
        "bob": world.bob_id,
        "carol": carol.pk,
    }
    user = {"owner": alice, "member": bob, "non_member": carol, "anonymous": None}[role]
    client = api_client_for(user)
    response = getattr(client, method)(_fill(path, values), _fill(body, values), format="json")
    want = {**{"non_member": 404, "anonymous": 401}, **expected}[role]
    assert response.status_code == want, response.content
    if want >= 400:
        error = response.json()["error"]
        assert error["code"] == {401: "not_authenticated", 403: "forbidden", 404: "not_found"}[want]
        assert "Team" not in response.content.decode()


def test_a_non_member_cannot_tell_a_room_from_a_missing_one(world, carol):
    client = api_client_for(carol)
    for path in ("/api/v1/rooms/{}", "/api/v1/history/room/{}", "/api/v1/rooms/{}/members"):
        real = client.get(path.format(world.room_id))
        missing = client.get(path.format(987654))
        assert real.status_code == missing.status_code == 404
        assert real.json() == missing.json()
    real = client.get(f"/api/v1/messages/{world.alice_message_id}")
    missing = client.get("/api/v1/messages/987654")
    assert real.json() == missing.json()


def test_the_room_list_holds_only_the_callers_rooms(world, alice, carol):
    assert [room["id"] for room in api_client_for(alice).get("/api/v1/rooms").json()["results"]] == [world.room_id]
    assert api_client_for(carol).get("/api/v1/rooms").json()["results"] == []


def test_a_removed_member_loses_access_at_once(world, alice, bob):
    bob_client = api_client_for(bob)
    assert bob_client.get(f"/api/v1/history/room/{world.room_id}").status_code == 200
    assert api_client_for(alice).delete(f"/api/v1/rooms/{world.room_id}/members/{bob.pk}").status_code == 204
    assert bob_client.get(f"/api/v1/history/room/{world.room_id}").status_code == 404
    assert bob_client.get(f"/api/v1/messages/{world.alice_message_id}/receipts").status_code == 404
