"""A real coturn (Debian's turnserver) for tests: 127.0.0.1 only, TURN REST secret, own files."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fastsock.core.testing import free_port, skip_or_fail, stop_process, system_parts_required


def require_coturn() -> None:
    if not (shutil.which("turnserver") and shutil.which("turnutils_uclient")):
        skip_or_fail("needs coturn (apt-get install coturn)", required=system_parts_required())


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


@contextlib.contextmanager
def running_coturn(folder: Path) -> Iterator[Coturn]:
    """A real coturn on 127.0.0.1 (a free port, a random shared secret), stopped afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    require_coturn()
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
