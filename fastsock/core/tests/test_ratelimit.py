"""Per-user limits: one attempt at a time (REST, single socket frames) and in batches (sends
stored together) count against the same counter, on whichever cache is configured."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.http import HttpRequest
from django.test import override_settings

from fastsock.core.cache import count_attempts
from fastsock.core.errors import ApiError
from fastsock.core.ratelimit import client_ip, rate_limit_user, rate_limit_users


def test_single_and_batched_attempts_share_one_counter():
    action = f"test.{uuid.uuid4().hex}"
    with override_settings(RATE_LIMITS={action: "3/m"}):
        rate_limit_user(user_id=7, action=action)
        outcomes = rate_limit_users(user_ids=[7, 8, 7, 7], action=action)
        assert outcomes[:3] == [None, None, None]  # 7 has used all 3, 8 one
        assert isinstance(outcomes[3], ApiError)
        assert outcomes[3].code == "rate_limited"
        assert 1 <= outcomes[3].retry_after <= 60
        with pytest.raises(ApiError):
            rate_limit_user(user_id=7, action=action)
        rate_limit_user(user_id=8, action=action)  # 8 still has room


def test_no_rate_configured_limits_nobody():
    with override_settings(RATE_LIMITS={}):
        assert rate_limit_users(user_ids=[1, 1, 1], action="test.unlimited") == [None, None, None]


def test_counting_starts_each_new_key_at_one_and_repeats_add_up():
    first, second = f"test:count:{uuid.uuid4().hex}", f"test:count:{uuid.uuid4().hex}"
    assert count_attempts(cache, [first, second, first], 30) == [1, 1, 2]
    assert count_attempts(cache, [first], 30) == [3]
    assert cache.get(first) == 3
    cache.delete_many([first, second])


def _request(**meta) -> HttpRequest:
    request = HttpRequest()
    request.META.update(meta)
    return request


def test_the_client_address_is_remote_addr_by_default():
    assert client_ip("", _request(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1")) == "203.0.113.9"


@pytest.mark.parametrize(
    ("hops", "forwarded_for", "expected"),
    [
        (1, "198.51.100.7", "198.51.100.7"),
        # A client that writes its own X-Forwarded-For gets it prefixed to what our proxy appends.
        (1, "127.0.0.1, 198.51.100.7", "198.51.100.7"),
        (2, "127.0.0.1, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        (2, "198.51.100.7", "198.51.100.7"),
        (1, " , ", "unknown"),
    ],
)
def test_a_forwarded_header_is_read_from_the_right_past_our_own_proxies(hops, forwarded_for, expected):
    with override_settings(RATELIMIT_IP_META_KEY="HTTP_X_FORWARDED_FOR", TRUSTED_PROXY_HOPS=hops):
        assert client_ip("", _request(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded_for)) == expected
