from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_unknown_api_path_gets_the_uniform_404(api_client):
    response = api_client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unknown_telecom_path_gets_the_uniform_404(api_client):
    assert api_client.post("/v1/nothing-here", {}, format="json").json()["error"]["code"] == "not_found"


def test_unknown_page_gets_a_friendly_html_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"This page does not exist" in response.content


@pytest.mark.urls("fastsock.core.tests.urls")
def test_api_crash_gets_the_uniform_500_without_details():
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/test/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["error"]["code"] == "server_error"
    assert "hunter2" not in response.content.decode()
    assert "RuntimeError" not in response.content.decode()


@pytest.mark.urls("fastsock.core.tests.urls")
def test_page_crash_gets_an_html_500():
    client = Client(raise_request_exception=False)
    response = client.get("/test/boom")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content


def test_api_csrf_failure_gets_the_uniform_403(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.patch("/api/v1/users/me", data={"display_name": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_page_csrf_failure_explains_itself(alice):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "alice", "password": "x"})
    assert response.status_code == 403
    assert b"reload the page" in response.content


def test_responses_carry_a_request_id(client):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) >= 8


def test_a_sane_incoming_request_id_is_kept_and_a_strange_one_replaced(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123-def-456")["X-Request-ID"] == "abc-123-def-456"
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert replaced != "<script>"
    assert len(replaced) == 32
