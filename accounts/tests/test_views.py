from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from fastsock.core.testing import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def test_login_page_renders_a_form(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_a_user_logs_in_and_lands_on_the_chat(client, alice):
    response = client.post("/login/", {"username": "alice", "password": TEST_PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert response.context["user"] == alice
    assert b"Hi Alice" in response.content


def test_login_is_case_insensitive_about_nothing_but_tells_a_wrong_password(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "wrong-password"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert "_auth_user_id" not in client.session


def test_login_follows_next_only_within_the_site(client, alice):
    response = client.post(
        "/login/?next=https://evil.example/",
        {"username": "alice", "password": TEST_PASSWORD, "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_login_page_is_rate_limited(client, alice, rate, unique_ip):
    rate("auth.login.ip", "2/m")
    for _ in range(2):
        client.post("/login/", {"username": "alice", "password": "wrong"}, REMOTE_ADDR=unique_ip)
    response = client.post("/login/", {"username": "alice", "password": TEST_PASSWORD}, REMOTE_ADDR=unique_ip)
    assert response.status_code == 429
    assert b"Too many attempts" in response.content
    assert int(response["Retry-After"]) >= 1
    assert "_auth_user_id" not in client.session


def test_chat_needs_a_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_register_page_creates_the_account_and_logs_in(client):
    response = client.post(
        "/register/",
        {
            "username": "dora",
            "display_name": "Dora",
            "email": "",
            "password": TEST_PASSWORD,
            "password_confirm": TEST_PASSWORD,
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/"
    assert response.context["user"].username == "dora"


def test_register_page_shows_errors_inline(client, alice):
    response = client.post(
        "/register/",
        {"username": "Alice", "password": "short", "password_confirm": "other"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "username" in form.errors or "password" in form.errors
    assert "password_confirm" in form.errors
    assert User.objects.count() == 1


def test_register_page_applies_the_password_validators(client):
    response = client.post(
        "/register/", {"username": "erin", "password": "password123", "password_confirm": "password123"}
    )
    assert "password" in response.context["form"].errors
    assert not User.objects.filter(username="erin").exists()


def test_logout_asks_on_get_and_logs_out_on_post(client, alice):
    client.force_login(alice)
    page = client.get("/logout/")
    assert page.status_code == 200
    assert "_auth_user_id" in client.session
    response = client.post("/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_logged_in_users_skip_the_login_page(client, alice):
    client.force_login(alice)
    assert client.get("/login/")["Location"] == "/"


def test_login_form_needs_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "alice", "password": TEST_PASSWORD})
    assert response.status_code == 403


def test_the_login_page_shows_the_demo_accounts_only_in_development(client, alice, settings):
    settings.DEBUG = True
    assert b"fastsock-demo" in client.get("/login/").content
    settings.DEBUG = False
    assert b"fastsock-demo" not in client.get("/login/").content
