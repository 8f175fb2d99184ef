"""Unread counts and receipts: exact, never counting own, system or deleted messages."""

from __future__ import annotations

import threading
from functools import partial

import pytest
from django.db import connections

from chat import selectors, services
from chat.models import Membership, ReceiptMark
from fastsock.core.testing import api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(alice, bob, carol):
    room = services.room_create_group(creator=alice, name="Team", member_ids=[bob.pk, carol.pk])
    return room


def member(room, user) -> Membership:
    return selectors.membership_for(room_id=room.pk, user=user)


def send(room, user, text="hi"):
    message, _ = services.message_send(membership=member(room, user), content=text)
    return message


def room_with_two_senders(alice, bob, carol):
    """A group of three; alice's and bob's memberships do the sending, carol only reads."""
    room = services.room_create_group(creator=alice, name="Busy", member_ids=[bob.pk, carol.pk])
    return room, [selectors.membership_for(room_id=room.pk, user=user) for user in (alice, bob)]


def run_together(*work) -> None:
    """Run each callable on its own thread, all released at once; fail with the first error."""
    barrier = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(function) -> None:
        try:
            barrier.wait(timeout=10)
            function()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(function,)) for function in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def unread_in_list(user, room_id) -> int:
    rooms = api_client_for(user).get("/api/v1/rooms").json()["results"]
    return next(room["unread_count"] for room in rooms if room["id"] == room_id)


def test_messages_from_others_are_unread_until_read(team, alice, bob):
    send(team, alice, "one")
    send(team, alice, "two")
    assert unread_in_list(bob, team.pk) == 2
    response = api_client_for(bob).post(f"/api/v1/rooms/{team.pk}/read", {}, format="json")
    assert response.json()["unread_count"] == 0
    assert unread_in_list(bob, team.pk) == 0
    send(team, alice, "three")
    assert unread_in_list(bob, team.pk) == 1


def test_own_and_system_messages_never_count(team, alice, bob):
    send(team, bob, "mine")
    send(team, bob, "mine again")
    assert unread_in_list(bob, team.pk) == 0
    assert unread_in_list(alice, team.pk) == 2  # the group's "created" system message does not count


def test_deleted_messages_stop_counting(team, alice, bob):
    first = send(team, alice, "oops")
    send(team, alice, "fine")
    services.message_delete(membership=member(team, alice), message=first)
    assert unread_in_list(bob, team.pk) == 1


def test_reading_up_to_a_message_leaves_the_later_ones_unread(team, alice, bob):
    first = send(team, alice, "1")
    send(team, alice, "2")
    send(team, alice, "3")
    response = api_client_for(bob).post(f"/api/v1/rooms/{team.pk}/read", {"message_id": first.pk}, format="json")
    assert response.json()["unread_count"] == 2
    membership = member(team, bob)
    assert membership.last_read_message_id == first.pk
    assert membership.last_read_at is not None


def test_the_read_watermark_never_moves_back(team, alice, bob):
    first = send(team, alice, "1")
    last = send(team, alice, "2")
    client = api_client_for(bob)
    client.post(f"/api/v1/rooms/{team.pk}/read", {"message_id": last.pk}, format="json")
    response = client.post(f"/api/v1/rooms/{team.pk}/read", {"message_id": first.pk}, format="json")
    assert response.json()["unread_count"] == 0
    assert member(team, bob).last_read_message_id == last.pk


def test_reading_a_message_of_another_room_is_refused(team, alice, bob, carol):
    other = services.room_create_group(creator=carol, name="Elsewhere")
    elsewhere = send(other, carol, "not yours")
    response = api_client_for(bob).post(f"/api/v1/rooms/{team.pk}/read", {"message_id": elsewhere.pk}, format="json")
    assert response.status_code == 400
    assert "message_id" in response.json()["error"]["details"]


@pytest.mark.parametrize("body", [{"message_id": "abc"}, {"message_id": -1}, {"message_id": [1]}])
def test_read_rejects_bad_message_ids(team, bob, body):
    response = api_client_for(bob).post(f"/api/v1/rooms/{team.pk}/read", body, format="json")
    assert response.status_code == 400


def test_receipts_show_who_received_and_read_a_message(team, alice, bob, carol):
    message = send(team, alice, "did you see this?")
    services.room_mark_delivered(membership=member(team, carol), message_id=message.pk)
    services.room_mark_read(membership=member(team, bob), message_id=message.pk)
    receipts = api_client_for(alice).get(f"/api/v1/messages/{message.pk}/receipts").json()["results"]
    by_user = {receipt["user"]["username"]: receipt for receipt in receipts}
    assert set(by_user) == {"bob", "carol"}, "the sender has no receipt of her own"
    assert by_user["bob"]["read_at"] is not None
    assert by_user["bob"]["delivered_at"] is not None
    assert by_user["bob"]["delivered_at"] <= by_user["bob"]["read_at"]
    assert by_user["carol"]["delivered_at"] is not None
    assert by_user["carol"]["read_at"] is None


def test_a_receipt_keeps_the_time_the_watermark_first_passed_the_message(team, alice, bob):
    first = send(team, alice, "1")
    services.room_mark_read(membership=member(team, bob), message_id=first.pk)
    read_at = api_client_for(alice).get(f"/api/v1/messages/{first.pk}/receipts").json()["results"][0]["read_at"]
    second = send(team, alice, "2")
    services.room_mark_read(membership=member(team, bob), message_id=second.pk)
    again = api_client_for(alice).get(f"/api/v1/messages/{first.pk}/receipts").json()["results"][0]["read_at"]
    assert again == read_at
    assert ReceiptMark.objects.filter(user=bob, kind="read").count() == 2


def test_the_room_list_counts_unread_without_a_query_per_room(team, alice, bob, django_assert_max_num_queries):
    for n in range(5):
        room = services.room_create_group(creator=alice, name=f"Room {n}", member_ids=[bob.pk])
        send(room, alice, "hello")
    client = api_client_for(bob)
    with django_assert_max_num_queries(4):
        rooms = client.get("/api/v1/rooms").json()["results"]
    assert len(rooms) == 6
    assert sum(room["unread_count"] for room in rooms) == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_are_all_counted(alice, bob, carol):
    room, senders = room_with_two_senders(alice, bob, carol)
    per_sender = 15

    def flood(membership) -> None:
        for n in range(per_sender):
            services.message_send(membership=membership, content=f"{membership.user.username} {n}", client_id=f"c-{n}")

    run_together(*(partial(flood, membership) for membership in senders))
    assert unread_in_list(carol, room.pk) == 2 * per_sender
    assert unread_in_list(bob, room.pk) == per_sender
    assert unread_in_list(alice, room.pk) == per_sender


def counter_matches_rule(room) -> None:
    for membership in Membership.objects.filter(room=room):
        assert membership.unread_count == selectors.unread_count(membership=membership), membership.user.username


def test_the_stored_counter_follows_the_rule_through_sends_deletes_reads_and_joins(team, alice, bob, carol, make_user):
    messages = [send(team, sender, f"m{n}") for n, sender in enumerate([alice, bob, alice, carol, alice, bob])]
    counter_matches_rule(team)
    services.room_mark_read(membership=member(team, bob), message_id=messages[2].pk)
    services.message_delete(membership=member(team, alice), message=messages[0])  # already read by bob
    services.message_delete(membership=member(team, alice), message=messages[4])  # still unread for bob
    counter_matches_rule(team)
    assert member(team, bob).unread_count == 1  # carol's m3
    dave = make_user("dave")
    services.room_members_add(actor=member(team, alice), user_ids=[dave.pk])
    counter_matches_rule(team)
    assert member(team, dave).unread_count == 4  # the live history from people: m1, m2, m3, m5
    services.room_mark_read(membership=member(team, dave))
    counter_matches_rule(team)
    assert member(team, dave).unread_count == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reads_racing_sends_and_deletes_keep_the_counter_exact(alice, bob, carol):
    room, senders = room_with_two_senders(alice, bob, carol)
    rounds = 20

    def send_and_delete(membership) -> None:
        for n in range(rounds):
            message, _ = services.message_send(membership=membership, content=f"{n}", client_id=f"r-{n}")
            if n % 3 == 0:
                services.message_delete(membership=membership, message=message)

    def read() -> None:
        for _ in range(rounds):
            services.room_mark_read(membership=selectors.membership_for(room_id=room.pk, user=carol))

    run_together(*(partial(send_and_delete, membership) for membership in senders), read)
    counter_matches_rule(room)
