"""The settings page: profile fields, the photo control, password change and its rate limit."""

from __future__ import annotations

import io
import re

import pytest
from django.test import Client
from PIL import Image

from fastsock.core.testing import TEST_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase"


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def _change_password(client, *, old=TEST_PASSWORD, new=NEW_PASSWORD, repeat=None, **extra):
    data = {"form": "password", "old_password": old, "new_password1": new, "new_password2": repeat or new}
    return client.post("/settings/", data, **extra)


def test_settings_needs_a_login(client):
    response = client.get("/settings/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/settings/"


def test_settings_shows_the_current_profile(alice_client, alice):
    alice.status_message = "Out for lunch"
    alice.save()
    response = alice_client.get("/settings/")
    assert response.status_code == 200
    assert response.context["profile_form"].initial == {"display_name": "Alice", "status_message": "Out for lunch"}
    assert b'value="Out for lunch"' in response.content
    assert b'href="/"' in response.content


def test_the_page_renders_the_avatar_upload_control(alice_client):
    content = alice_client.get("/settings/").content.decode()
    assert re.search(
        r'<input[^>]*type="file"[^>]*name="file"[^>]*accept="image/png,image/jpeg,image/gif,image/webp"', content
    )
    assert 'data-upload-url="/api/v1/users/me/avatar"' in content
    assert 'name="csrfmiddlewaretoken"' in content
    assert '<script type="module" src="/static/accounts/js/settings.js"></script>' in content


def test_a_profile_update_is_saved_and_confirmed(alice_client, alice):
    response = alice_client.post(
        "/settings/", {"form": "profile", "display_name": "  Alice Liddell ", "status_message": "Down the rabbit hole"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/settings/"
    alice.refresh_from_db()
    assert alice.display_name == "Alice Liddell"
    assert alice.status_message == "Down the rabbit hole"
    page = alice_client.get("/settings/")
    assert b"Your profile is saved." in page.content


def test_an_empty_display_name_falls_back_to_the_username(alice_client, alice):
    alice_client.post("/settings/", {"form": "profile", "display_name": "", "status_message": ""})
    alice.refresh_from_db()
    assert alice.display_name == ""
    assert alice.name == "alice"


def test_a_too_long_display_name_is_refused_next_to_its_field(alice_client, alice):
    response = alice_client.post("/settings/", {"form": "profile", "display_name": "x" * 65, "status_message": "ok"})
    assert response.status_code == 200
    form = response.context["profile_form"]
    assert form.errors["display_name"] == ["Ensure this value has at most 64 characters (it has 65)."]
    assert "status_message" not in form.errors
    assert b"at most 64 characters" in response.content
    alice.refresh_from_db()
    assert alice.display_name == "Alice"
    assert alice.status_message == ""


def test_a_too_long_status_message_is_refused(alice_client, alice):
    response = alice_client.post(
        "/settings/", {"form": "profile", "display_name": "Alice", "status_message": "y" * 141}
    )
    assert "status_message" in response.context["profile_form"].errors
    alice.refresh_from_db()
    assert alice.status_message == ""


def test_a_wrong_current_password_changes_nothing(alice_client, alice):
    response = _change_password(alice_client, old="not-my-password")
    assert response.status_code == 200
    assert "old_password" in response.context["password_form"].errors
    assert b"Your old password was entered incorrectly" in response.content
    alice.refresh_from_db()
    assert alice.check_password(TEST_PASSWORD)


def test_a_weak_or_mismatched_new_password_is_refused(alice_client, alice):
    weak = _change_password(alice_client, new="password123")
    assert "new_password1" in weak.context["password_form"].errors
    mismatched = _change_password(alice_client, repeat="something-else-entirely")
    assert "new_password2" in mismatched.context["password_form"].errors
    alice.refresh_from_db()
    assert alice.check_password(TEST_PASSWORD)


def test_a_password_change_keeps_this_session_and_the_new_password_logs_in(alice_client, alice):
    other_device = Client()
    other_device.force_login(alice)

    response = _change_password(alice_client)
    assert response.status_code == 302
    assert response["Location"] == "/settings/#password"
    page = alice_client.get("/settings/")
    assert page.status_code == 200
    assert page.context["user"] == alice
    assert b"Your password is changed." in page.content
    # Other sessions of the same person end with the old password.
    assert other_device.get("/settings/").status_code == 302

    fresh = Client()
    assert not fresh.login(username="alice", password=TEST_PASSWORD)
    assert fresh.login(username="alice", password=NEW_PASSWORD)


def test_password_attempts_are_rate_limited(alice_client, alice, rate):
    rate("auth.password_change.user", "2/m")
    for _ in range(2):
        _change_password(alice_client, old="wrong-guess")
    response = _change_password(alice_client)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert b"Too many attempts" in response.content
    alice.refresh_from_db()
    assert alice.check_password(TEST_PASSWORD)
    # Only the password form is limited: the profile still saves.
    saved = alice_client.post("/settings/", {"form": "profile", "display_name": "Al", "status_message": ""})
    assert saved.status_code == 302


def test_the_password_rate_limit_counts_per_user(alice_client, bob, rate):
    rate("auth.password_change.user", "1/m")
    _change_password(alice_client, old="wrong-guess")
    assert _change_password(alice_client, old="wrong-guess").status_code == 429
    bob_client = Client()
    bob_client.force_login(bob)
    assert _change_password(bob_client, old="wrong-guess").status_code == 200


def test_the_settings_forms_need_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/settings/", {"form": "profile", "display_name": "Mallory", "status_message": ""})
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.display_name == "Alice"


def test_the_page_token_lets_its_script_upload_a_photo_over_the_session(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    page = client.get("/settings/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    image = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(image, "PNG")
    image.seek(0)
    image.name = "me.png"

    response = client.post("/api/v1/users/me/avatar", {"file": image}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.content
    assert response.json()["avatar_url"].startswith(f"/api/v1/users/{alice.pk}/avatar?v=")
    assert response.json()["avatar_url"].encode() in client.get("/settings/").content
