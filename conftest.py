"""Fixtures every test may use: alice (owner), bob (member), carol (no access), clients, sockets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from fastsock.core.testing import (
    TEST_PASSWORD,
    api_client_for,
    services_required,
    skip_or_fail,
)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and settings.DATABASES["default"]["ENGINE"] != (
        "django.db.backends.postgresql"
    ):
        skip_or_fail("needs PostgreSQL: set DATABASE_URL", required=services_required())
    if item.get_closest_marker("redis") and not settings.REDIS_URL:
        skip_or_fail("needs Redis: set REDIS_URL", required=services_required())


@pytest.fixture
def make_user(db: None) -> Callable[..., Any]:
    from accounts.models import User

    def make(username: str, *, password: str = TEST_PASSWORD, **fields: Any) -> User:
        fields.setdefault("display_name", username.capitalize())
        return User.objects.create_user(username=username, password=password, **fields)

    return make


@pytest.fixture
def alice(make_user: Callable[..., Any]) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(make_user: Callable[..., Any]) -> Any:
    return make_user("bob")


@pytest.fixture
def carol(make_user: Callable[..., Any]) -> Any:
    return make_user("carol")


@pytest.fixture
def api_client() -> Any:
    """An API client with no credentials."""
    return api_client_for(None)


@pytest.fixture
def client_for() -> Callable[[Any], Any]:
    """``client_for(user)``: an API client authenticated with that user's JWT."""
    return api_client_for


@pytest.fixture
def alice_api(alice: Any) -> Any:
    return api_client_for(alice)


@pytest.fixture
def rate(settings: Any) -> Callable[[str, str], None]:
    """``rate("auth.login.ip", "3/m")``: lower one rate limit for this test."""

    def set_rate(action: str, value: str) -> None:
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, action: value}

    return set_rate


@pytest.fixture
def unique_ip() -> str:
    """A client address no other test (or earlier run against the same Redis) has used."""
    import uuid

    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


@pytest.fixture(autouse=True)
def _fresh_rate_limit_counters(settings: Any) -> None:
    """Each test counts rate limits from zero, even against a Redis that outlives test runs."""
    import uuid

    settings.RATELIMIT_CACHE_PREFIX = f"rl:{uuid.uuid4().hex[:12]}:"


@pytest.fixture(autouse=True)
def _no_presence_left_over() -> None:
    """User ids repeat from test to test: forget every socket an earlier test registered."""
    from fastsock.core import presence

    presence._local.clear()
    client = presence._redis()
    if client is not None:
        keys = list(client.scan_iter(f"{settings.REDIS_KEY_PREFIX}:presence:*"))
        if keys:
            client.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> None:
    """A channel layer per test: each async test runs its own event loop, and channels-redis
    binds its locks to the loop that first used them."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture(scope="session", autouse=True)
def _close_async_test_connections(django_db_setup: None, django_db_blocker: Any) -> Any:
    """Async tests reach the database from asgiref's single sync thread, which keeps its own
    connection, and sockets borrow pooled ones; close them all before the test database is
    dropped, or PostgreSQL refuses the drop."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    with django_db_blocker.unblock():
        SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=30)
        for connection in connections.all():
            if getattr(connection, "pool", None) is not None:
                connection.close_pool()
