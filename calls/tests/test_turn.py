"""ICE servers and TURN REST credentials: the scheme coturn checks, and the endpoint that hands them out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client, override_settings

from calls.turn import turn_credentials
from fastsock.core.testing import api_client_for, run_fresh_python

URL = "/api/v1/calls/ice-servers"
SECRET = "a-shared-secret-only-this-test-knows"
STUN = ["stun:stun1.example.com:3478", "stun:stun2.example.com:3478"]
TURN = [
    "turn:turn.example.com:3478?transport=udp",
    "turn:turn.example.com:3478?transport=tcp",
    "turns:turn.example.com:5349?transport=tcp",
]
NOON = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def expected_credential(secret: str, username: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


# --- The credential scheme -------------------------------------------------------------------


@override_settings(TURN_SHARED_SECRET=SECRET, TURN_CREDENTIAL_TTL=3600)
def test_credentials_follow_the_turn_rest_scheme():
    credentials = turn_credentials(user_id=42, now=NOON)
    expiry = int(NOON.timestamp()) + 3600
    assert credentials["username"] == f"{expiry}:42"
    assert credentials["credential"] == expected_credential(SECRET, f"{expiry}:42")


@override_settings(TURN_SHARED_SECRET="north", TURN_CREDENTIAL_TTL=3600)
def test_credentials_match_a_vector_computed_with_openssl():
    # printf '%s' '1893459600:42' | openssl dgst -sha1 -hmac north -binary | base64
    credentials = turn_credentials(user_id=42, now=datetime.fromtimestamp(1893459600 - 3600, tz=UTC))
    assert credentials["username"] == "1893459600:42"
    assert credentials["credential"] == "Z4qotuRUctWXoVCi4LeXF4AZrrY="


@override_settings(TURN_SHARED_SECRET=SECRET, TURN_CREDENTIAL_TTL=600)
def test_credentials_expire_ttl_seconds_after_now():
    credentials = turn_credentials(user_id=7, now=NOON)
    assert credentials["ttl"] == 600
    assert credentials["expires_at"] == NOON + timedelta(seconds=600)
    assert credentials["username"] == f"{int(credentials['expires_at'].timestamp())}:7"


@override_settings(TURN_SHARED_SECRET=SECRET, TURN_CREDENTIAL_TTL=600)
def test_credentials_default_to_the_current_time():
    before = int(time.time())
    expiry = int(turn_credentials(user_id=7)["username"].split(":")[0])
    assert before + 600 <= expiry <= int(time.time()) + 600


@override_settings(TURN_SHARED_SECRET="")
def test_credentials_cannot_be_signed_without_a_secret():
    with pytest.raises(ValueError, match="TURN_SHARED_SECRET"):
        turn_credentials(user_id=7, now=NOON)


# --- GET /api/v1/calls/ice-servers -----------------------------------------------------------


@pytest.mark.django_db
def test_ice_servers_need_authentication(api_client):
    assert_error(api_client.get(URL), 401, "not_authenticated")


@pytest.mark.django_db
def test_an_invalid_token_is_refused_in_the_error_shape(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_error(api_client.get(URL), 401, "invalid_token")


@pytest.mark.django_db
@override_settings(STUN_URLS=STUN, TURN_URLS=TURN, TURN_SHARED_SECRET=SECRET, TURN_CREDENTIAL_TTL=900)
def test_ice_servers_list_stun_then_turn_with_fresh_credentials(alice):
    before = int(time.time())
    response = api_client_for(alice).get(URL)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"ice_servers", "ttl"}
    assert body["ttl"] == 900
    stun_entries, turn_entry = body["ice_servers"][:-1], body["ice_servers"][-1]
    assert stun_entries == [{"urls": [STUN[0]]}, {"urls": [STUN[1]]}]
    assert set(turn_entry) == {"urls", "username", "credential"}
    assert turn_entry["urls"] == TURN
    expiry, user_id = turn_entry["username"].split(":")
    assert user_id == str(alice.pk)
    assert before + 900 <= int(expiry) <= int(time.time()) + 900
    assert turn_entry["credential"] == expected_credential(SECRET, turn_entry["username"])


@pytest.mark.django_db
@override_settings(TURN_URLS=TURN, TURN_SHARED_SECRET=SECRET)
def test_each_person_gets_credentials_of_their_own(alice, bob):
    alices = api_client_for(alice).get(URL).json()["ice_servers"][-1]
    bobs = api_client_for(bob).get(URL).json()["ice_servers"][-1]
    assert alices["username"].endswith(f":{alice.pk}")
    assert bobs["username"].endswith(f":{bob.pk}")
    assert alices["credential"] != bobs["credential"]


@pytest.mark.django_db
@override_settings(STUN_URLS=STUN, TURN_URLS=TURN, TURN_SHARED_SECRET=SECRET)
def test_a_web_session_may_fetch_ice_servers(alice):
    client = Client()
    client.force_login(alice)
    response = client.get(URL)
    assert response.status_code == 200, response.content
    assert response.json()["ice_servers"][-1]["username"].endswith(f":{alice.pk}")


@pytest.mark.django_db
@override_settings(STUN_URLS=STUN, TURN_URLS=TURN, TURN_SHARED_SECRET="")
def test_without_a_shared_secret_there_is_no_turn_entry(alice):
    body = api_client_for(alice).get(URL).json()
    assert body["ice_servers"] == [{"urls": [STUN[0]]}, {"urls": [STUN[1]]}]


@pytest.mark.django_db
@override_settings(STUN_URLS=[], TURN_URLS=[], TURN_SHARED_SECRET=SECRET, TURN_CREDENTIAL_TTL=3600)
def test_with_nothing_configured_the_list_is_empty(alice):
    response = api_client_for(alice).get(URL)
    assert response.status_code == 200
    assert response.json() == {"ice_servers": [], "ttl": 3600}


@pytest.mark.django_db
@override_settings(STUN_URLS=STUN, TURN_URLS=TURN, TURN_SHARED_SECRET=SECRET)
def test_the_shared_secret_never_appears_in_the_response(alice):
    response = api_client_for(alice).get(URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert SECRET not in content
    assert base64.b64encode(SECRET.encode()).decode() not in content
    assert all(SECRET not in value for value in response.headers.values())


@pytest.mark.django_db
@override_settings(TURN_URLS=TURN, TURN_SHARED_SECRET=SECRET)
def test_fetching_ice_servers_too_often_is_rate_limited(alice, rate):
    rate("calls.ice.user", "2/m")
    client = api_client_for(alice)
    assert [client.get(URL).status_code for _ in range(2)] == [200, 200]
    refused = client.get(URL)
    assert_error(refused, 429, "rate_limited")
    assert int(refused["Retry-After"]) >= 1
    assert "credential" not in refused.content.decode()


@pytest.mark.django_db
def test_other_methods_are_not_allowed(alice_api):
    assert_error(alice_api.post(URL, {}, format="json"), 405, "method_not_allowed")


# --- Configuration ---------------------------------------------------------------------------

SHOW_ICE_SETTINGS = """
import django
from django.conf import settings
django.setup()
print(settings.STUN_URLS, settings.TURN_URLS, settings.TURN_CREDENTIAL_TTL, bool(settings.TURN_SHARED_SECRET))
"""


def run_with(env: dict[str, str]):
    return run_fresh_python(["-c", SHOW_ICE_SETTINGS], {"DEBUG": "1", **env})


def test_ice_settings_are_read_from_the_environment():
    result = run_with(
        {
            "STUN_URLS": "stun:a.example.com:3478, stun:b.example.com:3478",
            "TURN_URLS": "turn:t.example.com:3478?transport=udp,turns:t.example.com:5349",
            "TURN_SHARED_SECRET": SECRET,
            "TURN_CREDENTIAL_TTL": "120",
        }
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "['stun:a.example.com:3478', 'stun:b.example.com:3478'] "
        "['turn:t.example.com:3478?transport=udp', 'turns:t.example.com:5349'] 120 True"
    )


def test_ice_settings_default_to_no_servers_and_an_hour():
    result = run_with({"STUN_URLS": "", "TURN_URLS": "", "TURN_SHARED_SECRET": "", "TURN_CREDENTIAL_TTL": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[] [] 3600 False"


@pytest.mark.parametrize("ttl", ["59", "86401", "-1"])
def test_a_credential_ttl_out_of_range_refuses_to_start(ttl):
    result = run_with({"TURN_CREDENTIAL_TTL": ttl})
    assert result.returncode != 0
    assert "TURN_CREDENTIAL_TTL must be between 60 and 86400" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("STUN_URLS", "stun.example.com:3478"), ("TURN_URLS", "stun:turn.example.com:3478")],
)
def test_an_ice_url_of_the_wrong_scheme_refuses_to_start(name, value):
    result = run_with({name: value})
    assert result.returncode != 0
    assert f"{name} entries must start with" in result.stderr
