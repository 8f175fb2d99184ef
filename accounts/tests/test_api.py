from __future__ import annotations

import pytest

from accounts.models import User
from fastsock.core.testing import TEST_PASSWORD, api_client_for

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
ME = "/api/v1/users/me"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def test_register_creates_a_user_and_returns_the_profile(api_client):
    response = api_client.post(
        REGISTER,
        {"username": "dora", "password": TEST_PASSWORD, "email": "dora@example.com", "display_name": "Dora"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "username", "display_name", "avatar_url", "status_message", "last_seen"}
    assert body["username"] == "dora"
    assert body["display_name"] == "Dora"
    user = User.objects.get(username="dora")
    assert user.check_password(TEST_PASSWORD)
    assert "password" not in response.content.decode()


def test_register_refuses_a_taken_username_whatever_its_case(api_client, alice):
    response = api_client.post(REGISTER, {"username": "ALICE", "password": TEST_PASSWORD}, format="json")
    error = assert_error(response, 400, "invalid")
    assert "username" in error["details"]
    assert User.objects.filter(username__iexact="alice").count() == 1


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short", "too short"), ("password123", "too common"), ("12345678901234", "entirely numeric")],
)
def test_register_validates_the_password(api_client, password, reason):
    response = api_client.post(REGISTER, {"username": "erin", "password": password}, format="json")
    error = assert_error(response, 400, "invalid")
    assert any(reason in message for message in error["details"]["password"])
    assert not User.objects.filter(username="erin").exists()


def test_register_refuses_a_password_like_the_username(api_client):
    response = api_client.post(REGISTER, {"username": "frankenstein", "password": "frankenstein1"}, format="json")
    error = assert_error(response, 400, "invalid")
    assert "password" in error["details"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"password": TEST_PASSWORD}, "username"),
        ({"username": "gina"}, "password"),
        ({"username": "a", "password": TEST_PASSWORD}, "username"),
        ({"username": "bad name!", "password": TEST_PASSWORD}, "username"),
        ({"username": ["gina"], "password": TEST_PASSWORD}, "username"),
        ({"username": "gina", "password": {"x": 1}}, "password"),
        ({"username": "gina", "password": TEST_PASSWORD, "email": "not-an-email"}, "email"),
    ],
)
def test_register_names_the_bad_field(api_client, payload, field):
    response = api_client.post(REGISTER, payload, format="json")
    error = assert_error(response, 400, "invalid")
    assert field in error["details"]
    assert User.objects.count() == 0


def test_register_with_malformed_json_gets_the_uniform_error(api_client):
    response = api_client.post(REGISTER, data='{"username": "x",', content_type="application/json")
    assert_error(response, 400, "malformed_request")


def test_register_with_a_json_array_gets_the_uniform_error(api_client):
    response = api_client.post(REGISTER, data="[1, 2]", content_type="application/json")
    assert_error(response, 400, "invalid")


def test_register_with_an_unsupported_content_type_gets_415(api_client):
    response = api_client.post(REGISTER, data="<x/>", content_type="application/xml")
    assert_error(response, 415, "unsupported_media_type")


def test_token_pair_authenticates_api_calls(api_client, alice):
    response = api_client.post(TOKEN, {"username": "alice", "password": TEST_PASSWORD}, format="json")
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    me = api_client.get(ME)
    assert me.status_code == 200
    assert me.json()["username"] == "alice"


def test_token_refresh_gives_a_new_working_access_token(api_client, alice):
    tokens = api_client.post(TOKEN, {"username": "alice", "password": TEST_PASSWORD}, format="json").json()
    response = api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 200
    access = response.json()["access"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert api_client.get(ME).json()["id"] == alice.pk


def test_token_with_wrong_password_is_refused(api_client, alice):
    response = api_client.post(TOKEN, {"username": "alice", "password": "not-her-password"}, format="json")
    assert_error(response, 401, "invalid_credentials")


def test_token_for_an_inactive_user_is_refused(api_client, make_user):
    make_user("henry", is_active=False)
    response = api_client.post(TOKEN, {"username": "henry", "password": TEST_PASSWORD}, format="json")
    assert_error(response, 401, "invalid_credentials")


def test_token_without_password_names_the_field(api_client):
    response = api_client.post(TOKEN, {"username": "alice"}, format="json")
    error = assert_error(response, 400, "invalid")
    assert "password" in error["details"]


def test_token_with_malformed_json_gets_the_uniform_error(api_client):
    response = api_client.post(TOKEN, data="{nope", content_type="application/json")
    assert_error(response, 400, "malformed_request")


def test_refresh_with_a_garbage_token_is_refused(api_client):
    response = api_client.post(REFRESH, {"refresh": "garbage"}, format="json")
    assert_error(response, 401, "invalid_token")


def test_an_access_token_cannot_be_used_as_a_refresh_token(api_client, alice):
    tokens = api_client.post(TOKEN, {"username": "alice", "password": TEST_PASSWORD}, format="json").json()
    response = api_client.post(REFRESH, {"refresh": tokens["access"]}, format="json")
    assert_error(response, 401, "invalid_token")


def test_me_needs_authentication(api_client):
    response = api_client.get(ME)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_me_with_a_bad_bearer_token_is_refused(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
    assert_error(api_client.get(ME), 401, "invalid_token")


def test_me_can_be_updated(alice, alice_api):
    response = alice_api.patch(
        ME, {"display_name": "  Alice L. ", "status_message": "Down the rabbit hole"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["display_name"] == "Alice L."
    alice.refresh_from_db()
    assert alice.status_message == "Down the rabbit hole"


def test_me_update_rejects_a_too_long_status(alice_api):
    error = assert_error(alice_api.patch(ME, {"status_message": "x" * 141}, format="json"), 400, "invalid")
    assert "status_message" in error["details"]


def test_wrong_method_gets_the_uniform_405(alice_api):
    assert_error(alice_api.delete(ME), 405, "method_not_allowed")


def test_people_search_finds_by_username_and_display_name_but_not_yourself(alice, bob, carol, make_user):
    make_user("zed", display_name="Bobby Tables")
    response = api_client_for(alice).get("/api/v1/users", {"search": "bob"})
    assert response.status_code == 200
    assert [user["username"] for user in response.json()["results"]] == ["bob", "zed"]
    everyone = api_client_for(alice).get("/api/v1/users").json()["results"]
    assert "alice" not in [user["username"] for user in everyone]


def test_login_is_rate_limited_per_address(api_client, alice, rate, unique_ip):
    rate("auth.login.ip", "3/m")
    for _ in range(3):
        response = api_client.post(
            TOKEN, {"username": "alice", "password": "wrong-password"}, format="json", REMOTE_ADDR=unique_ip
        )
        assert response.status_code == 401
    response = api_client.post(
        TOKEN, {"username": "alice", "password": TEST_PASSWORD}, format="json", REMOTE_ADDR=unique_ip
    )
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_login_is_rate_limited_per_username_across_addresses(api_client, alice, rate, unique_ip):
    rate("auth.login.username", "2/m")
    for n in range(2):
        api_client.post(TOKEN, {"username": "Alice", "password": "wrong"}, format="json", REMOTE_ADDR=f"{unique_ip}{n}")
    response = api_client.post(
        TOKEN, {"username": "alice", "password": TEST_PASSWORD}, format="json", REMOTE_ADDR=unique_ip
    )
    assert_error(response, 429, "rate_limited")


def test_registration_is_rate_limited(api_client, rate, unique_ip):
    rate("auth.register.ip", "2/h")
    for n in range(2):
        response = api_client.post(
            REGISTER, {"username": f"user{n}", "password": TEST_PASSWORD}, format="json", REMOTE_ADDR=unique_ip
        )
        assert response.status_code == 201
    response = api_client.post(
        REGISTER, {"username": "user9", "password": TEST_PASSWORD}, format="json", REMOTE_ADDR=unique_ip
    )
    assert_error(response, 429, "rate_limited")
    assert not User.objects.filter(username="user9").exists()


def test_people_search_pages_with_a_cursor(alice, make_user):
    for name in ("ann", "abe", "amy", "art"):
        make_user(name)
    client = api_client_for(alice)
    first = client.get("/api/v1/users", {"search": "a", "limit": 2}).json()
    second = client.get("/api/v1/users", {"search": "a", "limit": 2, "after": first["next"]}).json()
    names = [user["username"] for user in first["results"] + second["results"]]
    assert names == ["abe", "amy", "ann", "art"]
    assert second["next"] is None
