import pytest

from chat.models import Membership, Message, Room
from chat.selectors import membership_for, membership_list, memberships_for_many, unread_count
from chat.services import (
    SendRequest,
    direct_room_get_or_create,
    message_send,
    messages_send_many,
    room_create_group,
    room_member_remove,
    room_member_set_role,
    room_members_add,
    room_note_post,
    room_rename,
)
from fastsock.core.errors import ApiError

pytestmark = pytest.mark.django_db


def is_member(*, room_id: int, user_id: int) -> bool:
    return Membership.objects.filter(room_id=room_id, user_id=user_id).exists()


def test_the_creator_owns_a_new_group_and_the_others_are_members(alice, bob, carol):
    room = room_create_group(creator=alice, name=" Team ", member_ids=[bob.pk, alice.pk])
    roles = dict(room.memberships.values_list("user__username", "role"))
    assert roles == {"alice": Membership.Role.OWNER, "bob": Membership.Role.MEMBER}
    assert room.name == "Team"
    assert is_member(room_id=room.pk, user_id=bob.pk)
    assert not is_member(room_id=room.pk, user_id=carol.pk)
    assert room.messages.get().type == "system"


def test_a_group_needs_a_name(alice):
    with pytest.raises(ApiError) as error:
        room_create_group(creator=alice, name="  ")
    assert "name" in error.value.details


def test_a_group_refuses_unknown_people(alice):
    with pytest.raises(ApiError) as error:
        room_create_group(creator=alice, name="Team", member_ids=[424242])
    assert "424242" in error.value.details["member_ids"][0]
    assert not Room.objects.exists()


def test_a_pair_has_exactly_one_direct_room_whoever_asks(alice, bob):
    first, created = direct_room_get_or_create(user=alice, other=bob)
    second, created_again = direct_room_get_or_create(user=bob, other=alice)
    assert created
    assert not created_again
    assert first == second
    assert Room.objects.filter(kind=Room.Kind.DIRECT).count() == 1


def test_no_direct_room_with_yourself(alice):
    with pytest.raises(ApiError):
        direct_room_get_or_create(user=alice, other=alice)


def test_the_room_list_holds_only_the_callers_rooms(alice, bob, carol):
    shared = room_create_group(creator=alice, name="Shared", member_ids=[bob.pk])
    room_create_group(creator=carol, name="Carol only")
    assert [m.room for m in membership_list(user=bob)] == [shared]


def test_only_admins_rename_and_direct_rooms_cannot_be_renamed(alice, bob):
    room = room_create_group(creator=alice, name="Team", member_ids=[bob.pk])
    with pytest.raises(ApiError) as error:
        room_rename(actor=membership_for(room_id=room.pk, user=bob), name="Mine")
    assert error.value.code == "forbidden"
    room_rename(actor=membership_for(room_id=room.pk, user=alice), name="Renamed")
    room.refresh_from_db()
    assert room.name == "Renamed"
    direct, _ = direct_room_get_or_create(user=alice, other=bob)
    with pytest.raises(ApiError):
        room_rename(actor=membership_for(room_id=direct.pk, user=alice), name="Nope")


def test_adding_members_skips_those_already_there(alice, bob, carol):
    room = room_create_group(creator=alice, name="Team", member_ids=[bob.pk])
    added = room_members_add(actor=membership_for(room_id=room.pk, user=alice), user_ids=[bob.pk, carol.pk])
    assert added == [carol]
    assert room.memberships.count() == 3


def test_admins_cannot_remove_owners_or_admins(alice, bob, carol, make_user):
    dave = make_user("dave")
    room = room_create_group(creator=alice, name="Team", member_ids=[bob.pk, carol.pk, dave.pk])
    owner = membership_for(room_id=room.pk, user=alice)
    room_member_set_role(actor=owner, user_id=bob.pk, role="admin")
    room_member_set_role(actor=owner, user_id=carol.pk, role="admin")
    bob_admin = membership_for(room_id=room.pk, user=bob)
    for target in (alice, carol):
        with pytest.raises(ApiError):
            room_member_remove(actor=bob_admin, user_id=target.pk)
    room_member_remove(actor=bob_admin, user_id=dave.pk)
    assert not is_member(room_id=room.pk, user_id=dave.pk)


def test_when_the_last_owner_leaves_the_longest_standing_admin_takes_over(alice, bob, carol):
    room = room_create_group(creator=alice, name="Team", member_ids=[bob.pk, carol.pk])
    room_member_set_role(actor=membership_for(room_id=room.pk, user=alice), user_id=carol.pk, role="admin")
    room_member_remove(actor=membership_for(room_id=room.pk, user=alice), user_id=alice.pk)
    assert membership_for(room_id=room.pk, user=carol).role == "owner"
    assert not is_member(room_id=room.pk, user_id=alice.pk)


def test_the_only_owner_cannot_step_down(alice, bob):
    room = room_create_group(creator=alice, name="Team", member_ids=[bob.pk])
    with pytest.raises(ApiError):
        room_member_set_role(actor=membership_for(room_id=room.pk, user=alice), user_id=alice.pk, role="member")


def test_nobody_leaves_a_direct_room(alice, bob):
    room, _ = direct_room_get_or_create(user=alice, other=bob)
    with pytest.raises(ApiError):
        room_member_remove(actor=membership_for(room_id=room.pk, user=alice), user_id=alice.pk)


def test_memberships_load_as_the_orm_loads_them(alice, bob, carol):
    room = room_create_group(creator=alice, name="Team", member_ids=[bob.pk])
    results = memberships_for_many([(room.pk, bob), (room.pk, carol), ("nope", alice), (str(room.pk), alice)])
    loaded, refused, unparsable, by_text = results
    expected = Membership.objects.select_related("room").get(room=room, user=bob)
    for field in Membership._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(expected, field.attname)
    for field in Room._meta.concrete_fields:
        assert getattr(loaded.room, field.attname) == getattr(expected.room, field.attname)
    assert loaded.user is bob
    assert isinstance(refused, ApiError)
    assert refused.code == "not_found"
    assert isinstance(unparsable, ApiError)
    assert unparsable.code == "not_found"
    assert by_text.user_id == alice.pk
    assert by_text.room.name == "Team"


def test_a_batch_of_sends_answers_each_as_a_single_send_would(alice, bob, carol):
    team = room_create_group(creator=alice, name="Team", member_ids=[bob.pk])
    other = room_create_group(creator=carol, name="Other", member_ids=[alice.pk])
    first, _ = message_send(membership=membership_for(room_id=team.pk, user=alice), content="hi", client_id="a-1")
    outcomes = messages_send_many([
        SendRequest(user=bob, room_id=team.pk, content="one", client_id="b-1"),
        SendRequest(user=carol, room_id=team.pk, content="not a member", client_id="c-1"),
        SendRequest(user=alice, room_id=other.pk, content="two", client_id="a-2"),
        SendRequest(user=bob, room_id=team.pk, content="   ", client_id="b-2"),
        SendRequest(user=alice, room_id=team.pk, content="three", client_id="a-3"),
    ])  # fmt: skip
    (one, created_one), refused, (two, _), empty, (three, _) = outcomes
    assert created_one
    assert one.content == "one"
    assert isinstance(refused, ApiError)
    assert refused.code == "not_found"
    assert isinstance(empty, ApiError)
    assert "content" in empty.details
    assert one.pk < two.pk < three.pk  # ids in request order
    assert Message.objects.filter(room=team, type="text").count() == 3
    team.refresh_from_db()
    assert team.last_message_id == three.pk
    # Counters equal the rule: bob has alice's two; alice has bob's one; in Other carol has alice's.
    counts = dict(Membership.objects.filter(room=team).values_list("user__username", "unread_count"))
    assert counts == {"alice": 1, "bob": 2}
    assert Membership.objects.get(room=other, user=carol).unread_count == 1
    assert first.pk < one.pk


def test_a_resend_in_a_batch_returns_the_original_and_stores_the_rest(alice, bob):
    team = room_create_group(creator=alice, name="Team", member_ids=[bob.pk])
    original, _ = message_send(membership=membership_for(room_id=team.pk, user=alice), content="hi", client_id="a-1")
    outcomes = messages_send_many([
        SendRequest(user=bob, room_id=team.pk, content="new", client_id="b-1"),
        SendRequest(user=alice, room_id=team.pk, content="hi", client_id="a-1"),
        SendRequest(user=bob, room_id=team.pk, content="twice", client_id="b-2"),
        SendRequest(user=bob, room_id=team.pk, content="twice", client_id="b-2"),
    ])  # fmt: skip
    (new, created_new), (again, created_again), (twice, created_twice), (twice_again, created_twice_again) = outcomes
    assert created_new
    assert new.content == "new"
    assert not created_again
    assert again.pk == original.pk
    assert created_twice
    assert not created_twice_again
    assert twice_again.pk == twice.pk
    assert Message.objects.filter(room=team, type="text").count() == 3
    assert Membership.objects.get(room=team, user=alice).unread_count == 2


def test_a_note_from_someone_counts_as_unread_for_the_others_only(alice, bob):
    room, _ = direct_room_get_or_create(user=alice, other=bob)
    note = room_note_post(room=room, content="Missed video call", from_user=alice)
    assert note.type == Message.Type.SYSTEM
    assert note.sender_id == alice.pk
    bob_membership = membership_for(room_id=room.pk, user=bob)
    alice_membership = membership_for(room_id=room.pk, user=alice)
    assert bob_membership.unread_count == unread_count(membership=bob_membership) == 1
    assert alice_membership.unread_count == unread_count(membership=alice_membership) == 0
    plain = room_note_post(room=room, content="Video call · 3 min")
    assert plain.sender_id is None
    bob_membership.refresh_from_db()
    assert bob_membership.unread_count == 1
