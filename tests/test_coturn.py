"""A real coturn accepts the TURN credentials FastSock hands out, and refuses forged or expired ones.

coturn runs on 127.0.0.1 on a free port with a random shared secret; ``turnutils_uclient -y``
makes two allocations that relay to each other, so no outside peer is needed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from calls.turn import turn_credentials
from fastsock.core.testing import api_client_for, free_port, skip_or_fail, stop_process, system_parts_required

pytestmark = [pytest.mark.system, pytest.mark.django_db]

STARTUP_SECONDS = 15
# A STUN Binding request: type, length 0, the magic cookie, a transaction id.
BINDING_REQUEST = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + b"fastsock-tst"
BINDING_SUCCESS = b"\x01\x01"


@dataclass
class Coturn:
    port: int
    secret: str
    log: Path

    @property
    def turn_url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "(no log)"


def answers_stun(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.2)
        probe.sendto(BINDING_REQUEST, ("127.0.0.1", port))
        try:
            reply = probe.recv(2048)
        except OSError:  # timeout, or ICMP port unreachable while it is still starting
            return False
    return reply[:2] == BINDING_SUCCESS


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    if not (shutil.which("turnserver") and shutil.which("turnutils_uclient")):
        skip_or_fail("needs coturn (apt-get install coturn)", required=system_parts_required())
    folder = tmp_path_factory.mktemp("coturn")
    port = free_port()
    secret = secrets.token_urlsafe(32)
    config = folder / "turnserver.conf"
    config.write_text(
        "\n".join(
            [
                "listening-ip=127.0.0.1",
                "relay-ip=127.0.0.1",
                f"listening-port={port}",
                # Wide: allocations outlive the test client until their lifetime runs out.
                "min-port=40000",
                "max-port=60000",
                "realm=fastsock.test",
                "use-auth-secret",
                f"static-auth-secret={secret}",
                f"userdb={folder / 'turndb'}",
                "fingerprint",
                "no-tls",
                "no-dtls",
                "no-cli",
                # The two test allocations relay to each other on 127.0.0.1.
                "allow-loopback-peers",
                "no-multicast-peers",
                f"pidfile={folder / 'turnserver.pid'}",
                f"log-file={folder / 'turnserver.log'}",
                "simple-log",
                "",
            ]
        )
    )
    config.chmod(0o600)
    output = (folder / "stdout.log").open("wb")
    process = subprocess.Popen(
        ["turnserver", "-c", str(config)], stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    running = Coturn(port=port, secret=secret, log=folder / "turnserver.log")
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not answers_stun(port):
            assert process.poll() is None, f"turnserver exited with {process.returncode}:\n{running.log_tail()}"
            assert time.monotonic() < deadline, f"turnserver did not answer STUN on {port}:\n{running.log_tail()}"
            time.sleep(0.05)
        yield running
    finally:
        stop_process(process, grace_seconds=5)
        output.close()


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
