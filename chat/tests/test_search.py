"""Message search: only the caller's rooms, never deleted or system messages, safe highlights.

alice owns the group "Team" with bob in it; carol has a room of her own with dave and is not
in Team.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.utils import timezone

from chat import search as chat_search
from chat import selectors, services
from chat.models import Message, Room
from fastsock.core.testing import api_client_for

pytestmark = pytest.mark.django_db

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


@dataclass
class World:
    team: Room
    carols_room: Room


@pytest.fixture
def world(alice, bob, carol, make_user) -> World:
    dave = make_user("dave")
    team = services.room_create_group(creator=alice, name="Team", member_ids=[bob.pk])
    carols_room = services.room_create_group(creator=carol, name="Carol and Dave", member_ids=[dave.pk])
    return World(team, carols_room)


def send(room: Room, user, text: str) -> Message:
    message, _ = services.message_send(membership=selectors.membership_for(room_id=room.pk, user=user), content=text)
    return message


def search(user, **params):
    return api_client_for(user).get("/api/v1/search", params)


def found_ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [hit["message"]["id"] for hit in response.json()["results"]]


# --- Who sees what ---------------------------------------------------------------------------


def test_search_finds_messages_in_the_callers_rooms_only(world, alice, bob, carol):
    ours = send(world.team, alice, "The quarterly report is ready")
    send(world.carols_room, carol, "quarterly report draft, do not share")

    response = search(bob, q="quarterly report")

    assert found_ids(response) == [ours.pk]
    hit = response.json()["results"][0]
    assert hit["room_id"] == world.team.pk
    assert hit["message"]["content"] == "The quarterly report is ready"
    assert hit["message"]["sender"]["username"] == "alice"


def test_a_non_member_never_sees_another_rooms_messages(world, alice, carol):
    send(world.team, alice, "secret launch date")

    assert found_ids(search(carol, q="launch")) == []


def test_a_non_member_naming_a_room_gets_the_same_404_as_for_a_missing_room(world, alice, carol):
    send(world.team, alice, "secret launch date")

    theirs = search(carol, q="launch", room_id=world.team.pk)
    missing = search(carol, q="launch", room_id=999_999)

    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert theirs.json()["error"]["code"] == "not_found"


def test_room_id_narrows_the_search_to_that_room(world, alice, bob):
    other = services.room_create_group(creator=alice, name="Other", member_ids=[bob.pk])
    in_team = send(world.team, alice, "lunch at noon")
    send(other, alice, "lunch at one")

    assert found_ids(search(bob, q="lunch", room_id=world.team.pk)) == [in_team.pk]


def test_deleted_messages_are_not_found(world, alice, bob):
    deleted = send(world.team, alice, "wrong channel password")
    services.message_delete(membership=selectors.membership_for(room_id=world.team.pk, user=alice), message=deleted)
    # A tombstone that kept its text (say, written by an older version) stays hidden too.
    kept_text = send(world.team, alice, "another password here")
    Message.objects.filter(pk=kept_text.pk).update(deleted_at=timezone.now())

    assert found_ids(search(bob, q="password")) == []


def test_system_messages_are_not_found(world, bob):
    # room_create_group announced "Alice created the group Team."
    assert Message.objects.filter(room=world.team, type=Message.Type.SYSTEM, content__contains="created").exists()

    assert found_ids(search(bob, q="created")) == []


def test_anonymous_callers_get_401(world):
    response = api_client_for(None).get("/api/v1/search", {"q": "hello"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


# --- Matching and ranking --------------------------------------------------------------------


@pytest.mark.postgres
def test_the_last_word_matches_as_a_prefix(world, alice, bob):
    hello = send(world.team, alice, "hello everyone")
    send(world.team, alice, "goodbye everyone")

    assert found_ids(search(bob, q="hel")) == [hello.pk]
    assert found_ids(search(bob, q="everyone hel")) == [hello.pk]
    # Only the last word is a prefix: "hel" in the middle must be a whole word.
    assert found_ids(search(bob, q="hel everyone")) == []


@pytest.mark.postgres
def test_every_word_must_match_and_operators_are_plain_text(world, alice, bob):
    both = send(world.team, alice, "deploy the api today")
    send(world.team, alice, "deploy tomorrow")

    assert found_ids(search(bob, q="deploy api")) == [both.pk]
    # tsquery syntax typed by a user neither breaks the query nor changes its meaning.
    assert found_ids(search(bob, q="deploy | !api")) == [both.pk]
    assert found_ids(search(bob, q="'); select 1; --")) == []
    assert found_ids(search(bob, q="deploy:* & (api")) == [both.pk]


@pytest.mark.postgres
def test_better_matches_rank_first_then_newer_ones(world, alice, bob):
    once_old = send(world.team, alice, "a note about the budget and many other unrelated things")
    thrice = send(world.team, alice, "budget budget budget")
    once_new = send(world.team, alice, "a note about the budget and many other unrelated things")

    results = search(bob, q="budget").json()["results"]

    assert [hit["message"]["id"] for hit in results] == [thrice.pk, once_new.pk, once_old.pk]
    ranks = [hit["rank"] for hit in results]
    assert all(isinstance(rank, float) for rank in ranks)
    assert ranks[0] > ranks[1] == ranks[2]


@pytest.mark.postgres
def test_only_the_newest_matches_are_ranked(world, alice, bob, monkeypatch):
    monkeypatch.setattr(chat_search, "RANKED_WINDOW", 3)
    send(world.team, alice, "budget budget budget")  # the best match, but older than the window
    newest = [send(world.team, alice, "a note on the budget") for _ in range(3)]

    body = search(bob, q="budget").json()

    assert [hit["message"]["id"] for hit in body["results"]] == [m.pk for m in reversed(newest)]
    assert body["next"] is None


@pytest.mark.skipif(ON_POSTGRESQL, reason="PostgreSQL searches with full text; this is the fallback")
def test_the_fallback_matches_substrings_newest_first(world, alice, bob):
    older = send(world.team, alice, "Hello there")
    newer = send(world.team, alice, "well, HELLO again")
    send(world.team, alice, "goodbye")

    results = search(bob, q="ELL").json()["results"]

    assert [hit["message"]["id"] for hit in results] == [newer.pk, older.pk]
    assert [hit["rank"] for hit in results] == [None, None]
    assert results[0]["highlight"] == "w<mark>ell</mark>, H<mark>ELL</mark>O again"


# --- Highlights ------------------------------------------------------------------------------


def test_the_highlight_marks_matches_and_escapes_html(world, alice, bob):
    text = "<script>alert('x')</script> launch & <b>bold</b> plan"
    send(world.team, alice, text)

    hit = search(bob, q="launch").json()["results"][0]

    assert "<mark>launch</mark>" in hit["highlight"]
    assert "&lt;script&gt;" in hit["highlight"]
    assert "<script" not in hit["highlight"]
    assert "<b>" not in hit["highlight"]
    assert hit["highlight"].replace("<mark>", "").replace("</mark>", "").count("<") == 0
    # The message itself is data, unchanged; only the highlight is HTML.
    assert hit["message"]["content"] == text


def test_a_long_message_is_highlighted_around_its_match(world, alice, bob):
    send(world.team, alice, "filler words go here " * 40 + "the needle is here " + "more filler text " * 40)

    highlight = search(bob, q="needle").json()["results"][0]["highlight"]

    assert "<mark>needle</mark>" in highlight
    assert len(highlight) < 600


def test_results_carry_reactions(world, alice, bob):
    message = send(world.team, alice, "pizza friday")
    services.reaction_add(
        membership=selectors.membership_for(room_id=world.team.pk, user=bob), message=message, emoji="🍕"
    )

    hit = search(bob, q="pizza").json()["results"][0]

    assert hit["message"]["reactions"] == [{"emoji": "🍕", "count": 1, "me": True, "user_ids": [bob.pk]}]


# --- Pagination ------------------------------------------------------------------------------


def test_paging_with_the_cursor_returns_every_hit_once(world, alice, bob):
    # Equal ranks (same text) and different ones, so the cursor must break ties by id.
    sent = [send(world.team, alice, "standup notes") for _ in range(5)]
    sent += [send(world.team, alice, f"standup notes, standup again {n}") for n in range(3)]
    sent += [send(world.team, alice, "standup")]

    seen: list[int] = []
    cursor = None
    for _ in range(10):
        params = {"q": "standup", "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = search(bob, **params).json()
        seen += [hit["message"]["id"] for hit in body["results"]]
        cursor = body["next"]
        if cursor is None:
            break

    assert sorted(seen) == sorted(message.pk for message in sent)
    assert len(seen) == len(set(seen))
    assert cursor is None


def test_the_limit_caps_a_page_and_the_last_page_has_no_next(world, alice, bob):
    for n in range(3):
        send(world.team, alice, f"ticket {n}")

    first = search(bob, q="ticket", limit=2).json()
    everything = search(bob, q="ticket").json()

    assert len(first["results"]) == 2
    assert first["next"]
    assert len(everything["results"]) == 3
    assert everything["next"] is None


# --- Bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "?!"}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "nul\x00byte"}, "q"),
        ({"q": "hello", "room_id": "abc"}, "room_id"),
        ({"q": "hello", "limit": "abc"}, "limit"),
        ({"q": "hello", "limit": 0}, "limit"),
        ({"q": "hello", "limit": 101}, "limit"),
        ({"q": "hello", "cursor": "not-a-cursor"}, "cursor"),
        ({"q": "hello", "cursor": "WyJ4Il0"}, "cursor"),  # base64 of ["x"]
    ],
)
def test_bad_input_is_a_400_naming_the_field(world, bob, params, field):
    response = search(bob, **params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["details"]


def test_a_query_of_200_characters_is_accepted(world, bob):
    assert search(bob, q="x" * 200).status_code == 200


def test_searching_is_rate_limited_per_user(world, alice, bob, rate):
    # A rate no other run uses, so counts left in a shared Redis cannot leak into this test.
    rate("chat.search.user", f"2/{1000 + secrets.randbelow(9000)}h")

    statuses = [search(bob, q="hello").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert search(alice, q="hello").status_code == 200


# --- Cost ------------------------------------------------------------------------------------


def test_a_page_costs_the_same_few_queries_however_long(world, alice, bob, django_assert_max_num_queries):
    team_for_bob = selectors.membership_for(room_id=world.team.pk, user=bob)
    for n in range(30):
        message = send(world.team, alice, f"status update {n}")
        services.reaction_add(membership=team_for_bob, message=message, emoji="👍")
    client = api_client_for(bob)

    # Authentication, the caller's rooms (or the named room's check), the matching ids, the
    # page's rows and their reactions.
    with django_assert_max_num_queries(5):
        assert len(client.get("/api/v1/search", {"q": "status", "limit": 25}).json()["results"]) == 25
    with django_assert_max_num_queries(5):
        response = client.get("/api/v1/search", {"q": "status", "room_id": world.team.pk, "limit": 25})
        assert len(response.json()["results"]) == 25
