"""Sending, idempotent resends, history pages, edits, tombstones, reactions and bad input."""

from __future__ import annotations

import pytest

from chat import selectors, services
from chat.models import Message
from fastsock.core import presence
from fastsock.core.testing import api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(alice, bob):
    return services.room_create_group(creator=alice, name="Team", member_ids=[bob.pk])


def post(user, room, body):
    return api_client_for(user).post(f"/api/v1/rooms/{room.pk}/messages", body, format="json")


def test_a_message_comes_back_in_the_contract_shape(team, alice):
    response = post(alice, team, {"content": "Hello **world**", "client_id": "web-1"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "room_id", "sender", "type", "content", "attachment", "reply_to", "client_id",
        "created_at", "edited_at", "deleted", "reactions",
    }  # fmt: skip
    assert body["sender"] == {"id": alice.pk, "username": "alice", "display_name": "Alice"}
    assert (body["type"], body["content"], body["client_id"], body["deleted"]) == (
        "text", "Hello **world**", "web-1", False,
    )  # fmt: skip


def test_a_resend_with_the_same_client_id_returns_the_original(team, alice):
    first = post(alice, team, {"content": "once", "client_id": "abc"})
    again = post(alice, team, {"content": "once", "client_id": "abc"})
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Message.objects.filter(client_id="abc").count() == 1


def test_a_client_id_reused_in_another_room_is_a_conflict(team, alice):
    other = services.room_create_group(creator=alice, name="Other")
    post(alice, team, {"content": "here", "client_id": "dup"})
    response = post(alice, other, {"content": "there", "client_id": "dup"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_two_people_may_use_the_same_client_id(team, alice, bob):
    assert post(alice, team, {"content": "a", "client_id": "same"}).status_code == 201
    assert post(bob, team, {"content": "b", "client_id": "same"}).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": ""}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "x" * 10_001}, "content"),
        ({"content": 5}, None),
        ({"content": "hi", "client_id": "has spaces"}, "client_id"),
        ({"content": "hi", "type": "system"}, "type"),
        ({"content": "hi", "type": "image"}, "attachment_id"),
        ({"content": "hi", "reply_to": 999999}, "reply_to"),
        ({"content": "hi", "attachment_id": 999999}, "attachment_id"),
        ({"content": "hi", "reply_to": "abc"}, "reply_to"),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_stored(team, alice, body, field):
    before = Message.objects.count()
    response = post(alice, team, body)
    if body.get("content") == 5:
        # JSON numbers are accepted as text by the field ("5"), which is harmless.
        assert response.status_code == 201
        return
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]
    assert Message.objects.count() == before


@pytest.mark.parametrize("body", ["{nope", "[" * 30_000])
def test_malformed_json_is_refused(team, alice, body):
    response = api_client_for(alice).post(
        f"/api/v1/rooms/{team.pk}/messages", data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_a_reply_quotes_its_message(team, alice, bob):
    original = post(alice, team, {"content": "question?"}).json()
    reply = post(bob, team, {"content": "answer", "reply_to": original["id"]}).json()
    assert reply["reply_to"] == {
        "id": original["id"], "sender": original["sender"], "content": "question?", "deleted": False,
    }  # fmt: skip


def test_history_pages_walk_back_and_forth_without_gaps_or_repeats(team, alice, bob):
    ids = [post(alice, team, {"content": f"m{n}"}).json()["id"] for n in range(25)]
    client = api_client_for(bob)
    newest = client.get(f"/api/v1/history/room/{team.pk}", {"limit": 10}).json()
    assert [m["id"] for m in newest["results"]] == ids[-10:]
    assert newest["has_more"] is True
    seen = [m["id"] for m in newest["results"]]
    cursor = newest["previous"]
    while cursor:
        page = client.get(f"/api/v1/history/room/{team.pk}", {"limit": 10, "before": cursor}).json()
        seen = [m["id"] for m in page["results"]] + seen
        cursor = page["previous"]
    system_id = Message.objects.get(room=team, type="system").pk
    assert seen == [system_id, *ids]
    forward = client.get(f"/api/v1/history/room/{team.pk}", {"limit": 10, "after": ids[4]}).json()
    assert [m["id"] for m in forward["results"]] == ids[5:15]
    assert forward["has_more"] is True
    assert forward["next"] == ids[14]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"before": "x"}, {"before": 5, "after": 3}])
def test_history_refuses_bad_paging(team, bob, params):
    response = api_client_for(bob).get(f"/api/v1/history/room/{team.pk}", params)
    assert response.status_code == 400


def test_history_costs_a_fixed_number_of_queries(team, alice, bob, django_assert_max_num_queries):
    for n in range(30):
        message = post(alice, team, {"content": f"m{n}"}).json()
        api_client_for(bob).post(f"/api/v1/messages/{message['id']}/reactions", {"emoji": "👍"}, format="json")
    client = api_client_for(bob)
    with django_assert_max_num_queries(5):
        assert len(client.get(f"/api/v1/history/room/{team.pk}").json()["results"]) == 31


def test_editing_keeps_the_history_and_marks_the_message(team, alice, bob):
    message = post(alice, team, {"content": "teh typo"}).json()
    response = api_client_for(alice).patch(f"/api/v1/messages/{message['id']}", {"content": "the typo"}, format="json")
    assert response.json()["content"] == "the typo"
    assert response.json()["edited_at"] is not None
    edits = api_client_for(bob).get(f"/api/v1/messages/{message['id']}/edits").json()["results"]
    assert [edit["content"] for edit in edits] == ["teh typo"]


def test_deleting_leaves_a_tombstone_in_history(team, alice, bob):
    message = post(alice, team, {"content": "secret plan"}).json()
    api_client_for(bob).post(f"/api/v1/messages/{message['id']}/reactions", {"emoji": "😮"}, format="json")
    response = api_client_for(alice).delete(f"/api/v1/messages/{message['id']}")
    assert response.status_code == 200
    history = api_client_for(bob).get(f"/api/v1/history/room/{team.pk}").json()["results"]
    tombstone = next(m for m in history if m["id"] == message["id"])
    assert tombstone["deleted"] is True
    assert tombstone["content"] == ""
    assert tombstone["reactions"] == []
    assert "secret plan" not in str(history)
    again = api_client_for(alice).patch(f"/api/v1/messages/{message['id']}", {"content": "x"}, format="json")
    assert again.status_code == 404


def test_reactions_are_summarised_per_viewer(team, alice, bob):
    message = post(alice, team, {"content": "party"}).json()
    url = f"/api/v1/messages/{message['id']}/reactions"
    assert api_client_for(alice).post(url, {"emoji": "🎉"}, format="json").status_code == 201
    assert api_client_for(bob).post(url, {"emoji": "🎉"}, format="json").status_code == 201
    assert api_client_for(bob).post(url, {"emoji": "🎉"}, format="json").status_code == 200
    assert api_client_for(bob).post(url, {"emoji": "👍🏽"}, format="json").status_code == 201
    summary = api_client_for(alice).get(f"/api/v1/messages/{message['id']}").json()["reactions"]
    assert summary == [
        {"emoji": "🎉", "count": 2, "me": True, "user_ids": [alice.pk, bob.pk]},
        {"emoji": "👍🏽", "count": 1, "me": False, "user_ids": [bob.pk]},
    ]
    removed = api_client_for(bob).delete(f"{url}/🎉")
    assert removed.json()["reactions"] == [
        {"emoji": "🎉", "count": 1, "me": False, "user_ids": [alice.pk]},
        {"emoji": "👍🏽", "count": 1, "me": True, "user_ids": [bob.pk]},
    ]
    assert api_client_for(bob).delete(f"{url}/🎉").status_code == 404


@pytest.mark.parametrize("emoji", ["", "abc", "👍" * 20, "<b>", ":no spaces:", "a👍"])
def test_reactions_must_be_an_emoji(team, alice, emoji):
    message = post(alice, team, {"content": "x"}).json()
    response = api_client_for(alice).post(
        f"/api/v1/messages/{message['id']}/reactions", {"emoji": emoji}, format="json"
    )
    assert response.status_code == 400


def test_direct_rooms_are_created_once_and_titled_by_the_other_person(alice, bob):
    first = api_client_for(alice).post("/api/v1/rooms/direct", {"user_id": bob.pk}, format="json")
    again = api_client_for(bob).post("/api/v1/rooms/direct", {"user_id": alice.pk}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["title"] == "Bob"
    assert again.json()["title"] == "Alice"
    assert api_client_for(alice).post("/api/v1/rooms/direct", {"user_id": alice.pk}, format="json").status_code == 400
    assert api_client_for(alice).post("/api/v1/rooms/direct", {"user_id": 99999}, format="json").status_code == 400


def test_group_management_through_the_api(alice, bob, carol):
    client = api_client_for(alice)
    room = client.post("/api/v1/rooms", {"name": "Book club", "member_ids": [bob.pk]}, format="json").json()
    assert [m["username"] for m in room["members"]] == ["alice", "bob"]
    added = client.post(f"/api/v1/rooms/{room['id']}/members", {"user_ids": [carol.pk]}, format="json").json()
    assert [u["username"] for u in added["added"]] == ["carol"]
    assert client.patch(f"/api/v1/rooms/{room['id']}", {"name": "Books"}, format="json").json()["name"] == "Books"
    assert api_client_for(carol).delete(f"/api/v1/rooms/{room['id']}/members/{carol.pk}").status_code == 204
    history = client.get(f"/api/v1/history/room/{room['id']}").json()["results"]
    assert [m["content"] for m in history if m["type"] == "system"] == [
        "Alice created the group Book club.", "Alice added Carol.", "Alice renamed the group to Books.", "Carol left.",
    ]  # fmt: skip


def test_the_room_list_pages_by_activity(alice, bob):
    rooms = [services.room_create_group(creator=alice, name=f"R{n}", member_ids=[bob.pk]) for n in range(5)]
    services.message_send(membership=selectors.membership_for(room_id=rooms[1].pk, user=alice), content="bump")
    client = api_client_for(bob)
    first = client.get("/api/v1/rooms", {"limit": 2}).json()
    assert [r["id"] for r in first["results"]] == [rooms[1].pk, rooms[4].pk]
    second = client.get("/api/v1/rooms", {"limit": 2, "cursor": first["next"]}).json()
    third = client.get("/api/v1/rooms", {"limit": 2, "cursor": second["next"]}).json()
    assert [r["id"] for r in second["results"] + third["results"]] == [rooms[3].pk, rooms[2].pk, rooms[0].pk]
    assert third["next"] is None
    assert client.get("/api/v1/rooms", {"cursor": "garbage!"}).status_code == 400


def test_sending_is_rate_limited_per_person(team, alice, rate):
    rate("chat.message.user", "3/m")
    for n in range(3):
        assert post(alice, team, {"content": f"{n}"}).status_code == 201
    response = post(alice, team, {"content": "one too many"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1


def test_members_carry_watermarks_and_presence_for_fellow_members(team, alice, bob):
    presence.socket_opened(user_id=bob.pk, channel="test-channel")
    try:
        listed = api_client_for(alice).get(f"/api/v1/rooms/{team.pk}/members").json()["results"]
    finally:
        presence.socket_closed(user_id=bob.pk, channel="test-channel")
    members = {member["username"]: member for member in listed}
    assert members["bob"]["online"] is True
    assert members["alice"]["online"] is False
    message = post(bob, team, {"content": "hi"}).json()
    api_client_for(alice).post(f"/api/v1/rooms/{team.pk}/read", {}, format="json")
    detail = api_client_for(bob).get(f"/api/v1/rooms/{team.pk}").json()
    read_by = {member["username"]: member["last_read_message_id"] for member in detail["members"]}
    assert read_by["alice"] == message["id"]
