import pytest
from django.db import IntegrityError

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_usernames_are_unique_regardless_of_case_in_the_database(alice):
    with pytest.raises(IntegrityError):
        User.objects.create_user(username="ALICE", password="x")


def test_name_falls_back_to_the_username(make_user):
    assert make_user("zoe", display_name="").name == "zoe"
    assert make_user("yan", display_name="Yan Y.").name == "Yan Y."
