"""A real Janus (Debian's ``janus``) for tests: token auth, VideoRoom and HTTP only, 127.0.0.1."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from calls.janus import JanusClient
from fastsock.core.testing import free_port, stop_process

JANUS_LIBS = Path("/usr/lib/x86_64-linux-gnu/janus")
OTHER_PLUGINS = (
    "audiobridge", "duktape", "echotest", "lua", "nosip", "recordplay", "sip", "streaming", "textroom",
    "videocall", "voicemail",
)  # fmt: skip
OTHER_TRANSPORTS = ("mqtt", "nanomsg", "pfunix", "rabbitmq", "websockets")
OTHER_EVENT_HANDLERS = ("gelfevh", "mqttevh", "nanomsgevh", "rabbitmqevh", "sampleevh", "wsevh")


@dataclass
class RunningJanus:
    url: str
    admin_url: str
    admin_secret: str
    admin_key: str
    log_file: Path
    process: subprocess.Popen[bytes]

    def client(self) -> JanusClient:
        return JanusClient(
            url=self.url, admin_url=self.admin_url, admin_secret=self.admin_secret, videoroom_admin_key=self.admin_key
        )


def janus_config(
    folder: Path, *, port: int, admin_port: int, admin_secret: str, admin_key: str, ice_interface: str | None = None
) -> Path:
    """Write a Janus config folder: token auth, VideoRoom and HTTP only, on 127.0.0.1."""
    libs = JANUS_LIBS if JANUS_LIBS.is_dir() else Path("/usr/lib/janus")
    disabled = lambda names: ",".join(f"libjanus_{name}.so" for name in names)  # noqa: E731
    # Janus never gathers loopback candidates: media tests give it an interface of their own.
    nat = f'nat: {{ ice_enforce_list = "{ice_interface}" }}\n' if ice_interface else ""
    (folder / "janus.jcfg").write_text(
        f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{libs}/plugins"
    transports_folder = "{libs}/transports"
    events_folder = "{libs}/events"
    loggers_folder = "{libs}/loggers"
    debug_level = 4
    admin_secret = "{admin_secret}"
    token_auth = true
    session_timeout = 60
}}
media: {{ rtp_port_range = "20000-40000" }}
plugins: {{ disable = "{disabled(OTHER_PLUGINS)}" }}
transports: {{ disable = "{disabled(OTHER_TRANSPORTS)}" }}
events: {{ broadcast = false disable = "{disabled(OTHER_EVENT_HANDLERS)}" }}
loggers: {{ disable = "libjanus_jsonlog.so" }}
{nat}"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{ json = "compact" base_path = "/janus" http = true https = false
    port = {port} ip = "127.0.0.1" }}
admin: {{ admin_base_path = "/admin" admin_http = true admin_https = false
    admin_port = {admin_port} admin_ip = "127.0.0.1" }}
cors: {{ allow_origin = "*" }}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text(
        f'general: {{ admin_key = "{admin_key}" lock_rtp_forward = true }}\n'
    )
    return folder / "janus.jcfg"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return json.loads(response.read()).get("janus") == "server_info"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start_janus(folder: Path, *, timeout: float = 20, ice_interface: str | None = None) -> RunningJanus:
    """Start Janus with a fresh config in ``folder``; return once ``/janus/info`` answers."""
    port, admin_port = free_port(), free_port()
    admin_secret, admin_key = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    config = janus_config(
        folder,
        port=port,
        admin_port=admin_port,
        admin_secret=admin_secret,
        admin_key=admin_key,
        ice_interface=ice_interface,
    )
    log_file = folder / "janus.log"
    process = subprocess.Popen(
        ["janus", "-C", str(config), "-F", str(folder), "-L", str(log_file), "-N", "-o"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/janus"
    deadline = time.monotonic() + timeout
    while not _answers(f"{url}/info"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process, grace_seconds=5)
            log = log_file.read_text(errors="replace")[-3000:] if log_file.exists() else ""
            raise RuntimeError(f"Janus did not come up on 127.0.0.1:{port}:\n{log}")
        time.sleep(0.05)
    return RunningJanus(url, f"http://127.0.0.1:{admin_port}/admin", admin_secret, admin_key, log_file, process)
