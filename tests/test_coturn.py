"""A real coturn accepts the TURN credentials FastSock hands out, and refuses forged or expired ones.

coturn runs on 127.0.0.1 on a free port with a random shared secret; ``turnutils_uclient -y``
makes two allocations that relay to each other, so no outside peer is needed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from calls.turn import turn_credentials
from fastsock.core.testing import api_client_for
from tests.coturn import Coturn, running_coturn

pytestmark = [pytest.mark.system, pytest.mark.django_db]


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    with running_coturn(tmp_path_factory.mktemp("coturn")) as running:
        yield running


def allocate(coturn: Coturn, username: str, credential: str) -> subprocess.CompletedProcess[str]:
    """Run two relayed allocations as ``username``; return code 0 means coturn accepted it."""
    return subprocess.run(
        ["turnutils_uclient", "-y", "-n", "1", "-p", str(coturn.port), "-u", username, "-w", credential, "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )


def assert_refused(result: subprocess.CompletedProcess[str]) -> None:
    """coturn answered and refused the allocation (not: it could not be reached at all)."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert "Cannot complete Allocation" in output, output[-2000:]


def turn_entry_from_the_api(coturn: Coturn, user) -> dict:
    with override_settings(TURN_URLS=[coturn.turn_url], TURN_SHARED_SECRET=coturn.secret):
        response = api_client_for(user).get("/api/v1/calls/ice-servers")
    assert response.status_code == 200, response.content
    servers = response.json()["ice_servers"]
    assert servers[-1]["urls"] == [coturn.turn_url]
    return servers[-1]


def test_coturn_accepts_credentials_from_the_ice_servers_endpoint(coturn, alice):
    entry = turn_entry_from_the_api(coturn, alice)
    result = allocate(coturn, entry["username"], entry["credential"])
    assert result.returncode == 0, f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}\n{coturn.log_tail()}"


def test_coturn_refuses_a_tampered_credential(coturn, alice):
    entry = turn_entry_from_the_api(coturn, alice)
    tampered = ("B" if entry["credential"][0] == "A" else "A") + entry["credential"][1:]
    assert_refused(allocate(coturn, entry["username"], tampered))


def test_coturn_refuses_a_credential_signed_for_someone_else(coturn, alice, bob):
    entry = turn_entry_from_the_api(coturn, alice)
    expiry = entry["username"].split(":")[0]
    assert_refused(allocate(coturn, f"{expiry}:{bob.pk}", entry["credential"]))


def test_coturn_refuses_an_expired_credential(coturn, alice):
    with override_settings(TURN_SHARED_SECRET=coturn.secret, TURN_CREDENTIAL_TTL=60):
        expired = turn_credentials(user_id=alice.pk, now=timezone.now() - timedelta(seconds=120))
    assert expired["expires_at"] < timezone.now()
    assert_refused(allocate(coturn, expired["username"], expired["credential"]))
