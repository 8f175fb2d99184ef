import pytest

from chat.models import Membership, Room
from chat.selectors import room_is_member, room_list_for_user
from chat.services import direct_room_get_or_create, room_create_group
from fastsock.core.errors import ApiError

pytestmark = pytest.mark.django_db


def test_the_creator_owns_a_new_group_and_the_others_are_members(alice, bob, carol):
    room = room_create_group(creator=alice, name=" Team ", member_ids=[bob.pk, alice.pk])
    roles = dict(room.memberships.values_list("user__username", "role"))
    assert roles == {"alice": Membership.Role.OWNER, "bob": Membership.Role.MEMBER}
    assert room.name == "Team"
    assert room_is_member(room_id=room.pk, user_id=bob.pk)
    assert not room_is_member(room_id=room.pk, user_id=carol.pk)


def test_a_group_needs_a_name(alice):
    with pytest.raises(ApiError) as error:
        room_create_group(creator=alice, name="  ")
    assert error.value.details == {"name": ["required"]}


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


def test_room_list_holds_only_the_callers_rooms(alice, bob, carol):
    shared = room_create_group(creator=alice, name="Shared", member_ids=[bob.pk])
    room_create_group(creator=carol, name="Carol only")
    assert list(room_list_for_user(user=bob)) == [shared]
