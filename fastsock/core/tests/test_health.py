from __future__ import annotations

import pytest

from fastsock.core.testing import free_port

pytestmark = pytest.mark.django_db


def test_healthz_says_the_process_is_alive(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_when_every_configured_part_answers(client, settings):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == ("ok" if settings.REDIS_URL else "not_configured")


def test_readyz_names_redis_when_it_is_down(client, settings):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = dead
    settings.CELERY_BROKER_URL = "memory://"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"]["redis"].startswith("error")
    assert body["checks"]["database"] == "ok"


def test_readyz_names_the_broker_when_it_is_down(client, settings):
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "broker" in response.json()["failing"]
    assert "guest" not in response.content.decode()


@pytest.mark.redis
def test_readyz_checks_the_real_redis_and_broker(client):
    body = client.get("/readyz").json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "broker": "ok"}


def test_metrics_count_requests_by_route(client):
    client.get("/healthz")
    client.get("/api/v1/users/me")
    body = client.get("/metrics").content.decode()
    assert 'fastsock_http_requests_total{method="GET",route="healthz",status="200"}' in body
    assert 'fastsock_http_requests_total{method="GET",route="api/v1/users/me",status="401"}' in body
    assert "fastsock_websocket_connections" in body


def test_metrics_need_the_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "metrics-secret-123"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret-123").status_code == 200
