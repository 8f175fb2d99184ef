"""Real SMS gateways for tests: Kannel (Debian's ``kannel``) and Jasmin (a venv of PyPI's ``jasmin``),
and FastSock's side of them: a Celery worker process on a queue of its own.

Each starts on 127.0.0.1 with free ports and a config written into a temporary folder, with one
SMPP client connection to a :class:`tests.smsc_simulator.SmscSimulator`, and calls back a
:class:`CallbackRecorder` for delivery reports and inbound messages. Every process is started
here and stopped by its own handle; nothing is installed or left behind. Jasmin gets its own
Redis server (it ignores ``dbid`` without a password, so a shared Redis would collect its keys
in db 0) and its own RabbitMQ vhost, deleted afterwards with everything Jasmin declared in it.
"""

from __future__ import annotations

import http.server
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fastsock.core.testing import free_port, stop_process
from telecom.gateways.kannel import sms_service_get_url

T = TypeVar("T")

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
JASMIN_VENV_STEP = ".ci/run (ensure_sms_gateways)"
RABBITMQ_PORT = 5672


class GatewayUnavailable(Exception):  # noqa: N818 - the reason a test skips, not an error of the code under test
    """A gateway, or a service it needs, is not installed or not running here."""


def wait_until(condition: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``condition`` until it returns something other than None/False; bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        time.sleep(interval)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def log_tail(*paths: Path, size: int = 3000) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-size:]}" for p in paths if p.exists())


# Callbacks: a small HTTP server that records every request and answers as the gateway wants.


@dataclass(frozen=True)
class Callback:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case

    @property
    def fields(self) -> dict[str, str]:
        """Query and form fields together, as a webhook view would read them."""
        return {**self.query, **self.form}


@dataclass
class CallbackRecorder:
    """Records GETs and form POSTs on 127.0.0.1; ``answers(path)`` gives (status, body)."""

    answers: Callable[[str], tuple[int, str]]
    received: list[Callback] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._record(b"")

            def do_POST(self) -> None:
                self._record(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _record(self, body: bytes) -> None:
                url = urllib.parse.urlsplit(self.path)
                form = {}
                if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                    form = _fields(body.decode("latin-1"), latin1=True)
                callback = Callback(
                    self.command,
                    url.path,
                    _fields(url.query),
                    form,
                    body,
                    {k.lower(): v for k, v in self.headers.items()},
                )
                status, answer = recorder.answers(url.path)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer.encode())))
                self.end_headers()
                self.wfile.write(answer.encode())
                with recorder._changed:
                    recorder.received.append(callback)
                    recorder._changed.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="callbacks", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def wait_for(self, predicate: Callable[[Callback], bool], *, timeout: float = 15) -> Callback:
        deadline = time.monotonic() + timeout
        with self._changed:
            while (found := next((c for c in self.received if predicate(c)), None)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(c.path, c.fields) for c in self.received][-10:]
                    raise TimeoutError(f"no matching callback within {timeout} s; last seen: {seen}")
                self._changed.wait(remaining)
            return found

    def matching(self, predicate: Callable[[Callback], bool]) -> list[Callback]:
        with self._changed:
            return [c for c in self.received if predicate(c)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _fields(query: str, *, latin1: bool = False) -> dict[str, str]:
    # Jasmin POSTs an MO's raw bytes in `content`; Latin-1 keeps any bytes decodable.
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, encoding="latin-1" if latin1 else "utf-8")
    fields = dict(pairs)
    if latin1:
        for key, value in fields.items():
            with suppress(UnicodeError):
                fields[key] = value.encode("latin-1").decode("utf-8")
    return fields


# Kannel.


@dataclass
class RunningKannel:
    sendsms_url: str
    username: str
    password: str
    smsc_id: str
    folder: Path
    processes: list[subprocess.Popen[bytes]]

    def logs(self) -> str:
        return log_tail(self.folder / "bearerbox.log", self.folder / "smsbox.log")

    def stop(self) -> None:
        # smsbox first, so bearerbox is not left waiting for a box that went away.
        for process in reversed(self.processes):
            stop_process(process, grace_seconds=10)


def kannel_installed() -> bool:
    return os.access(BEARERBOX, os.X_OK) and os.access(SMSBOX, os.X_OK)


def kannel_config(
    folder: Path,
    *,
    smsc_port: int,
    mo_url: str,
    admin_port: int,
    smsbox_port: int,
    sendsms_port: int,
    password: str,
    global_sender: str | None = "12345",
    log_level: int = 0,
) -> Path:
    """Kannel's config. A ``global_sender`` also replaces every inbound message's receiver (``%P``)
    with itself (smsbox swaps sender and receiver to make a reply): pass None where that matters.

    smsbox sends a callback again (delivery report or inbound message) that got no 200/202 answer,
    three times a second apart: by default it would drop it at the first error (docs/telecom.md).
    ``log_level`` 0 logs every PDU and HTTP exchange, 1 (info) one line per message."""
    config = folder / "kannel.conf"
    config.write_text(
        f"""group = core
admin-port = {admin_port}
admin-interface = 127.0.0.1
admin-password = "{password}"
status-password = "{password}"
admin-allow-ip = "127.0.0.1"
smsbox-port = {smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
dlr-storage = internal
log-file = "{folder}/bearerbox.log"
log-level = {log_level}

group = smsc
smsc = smpp
smsc-id = sim
host = 127.0.0.1
port = {smsc_port}
transceiver-mode = true
smsc-username = kannel
smsc-password = kannel
system-type = ""
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = 127.0.0.1
{f"global-sender = {global_sender}{chr(10)}" if global_sender else ""}mo-recode = true
http-request-retry = 3
http-queue-delay = 1
log-file = "{folder}/smsbox.log"
log-level = {log_level}

group = sendsms-user
username = fastsock
password = "{password}"
max-messages = 10
concatenation = true

group = sms-service
keyword-regex = .*
catch-all = true
max-messages = 0
omit-empty = true
get-url = "{sms_service_get_url(mo_url)}"
"""
    )
    return config


def kannel_status(admin_port: int, password: str) -> str:
    url = f"http://127.0.0.1:{admin_port}/status.txt?password={password}"
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return ""


def start_kannel(
    folder: Path,
    *,
    smsc_port: int,
    mo_url: str,
    password: str | None = None,
    global_sender: str | None = "12345",
    timeout: float = 20,
    log_level: int = 0,
) -> RunningKannel:
    """Start bearerbox and smsbox; return once the SMPP link is online and sendsms answers.

    ``password`` (default: a random one) is the sendsms user's, and the admin interface's;
    ``global_sender`` and ``log_level`` as in :func:`kannel_config`.
    """
    if not kannel_installed():
        raise GatewayUnavailable("needs Kannel (apt-get install kannel)")
    admin_port, smsbox_port, sendsms_port = free_port(), free_port(), free_port()
    password = password or secrets.token_hex(8)
    config = kannel_config(
        folder,
        smsc_port=smsc_port,
        mo_url=mo_url,
        admin_port=admin_port,
        smsbox_port=smsbox_port,
        sendsms_port=sendsms_port,
        password=password,
        global_sender=global_sender,
        log_level=log_level,
    )
    processes: list[subprocess.Popen[bytes]] = []
    kannel = RunningKannel(f"http://127.0.0.1:{sendsms_port}", "fastsock", password, "sim", folder, processes)
    try:
        with (folder / "bearerbox.out").open("wb") as out:
            processes.append(subprocess.Popen([BEARERBOX, "-v", "1", str(config)], stdout=out, stderr=out))
        wait_until(
            lambda: "(online" in kannel_status(admin_port, password) or _exited(processes),
            timeout=timeout,
            what="Kannel's SMPP link online",
        )
        with (folder / "smsbox.out").open("wb") as out:
            processes.append(subprocess.Popen([SMSBOX, "-v", "1", str(config)], stdout=out, stderr=out))
        wait_until(lambda: port_open(sendsms_port) or _exited(processes), timeout=timeout, what="Kannel's smsbox")
        if _exited(processes):
            raise RuntimeError("a Kannel box exited")
    except BaseException as error:
        kannel.stop()
        logs = log_tail(*folder.glob("*.out"), *folder.glob("*.log"))
        raise RuntimeError(f"Kannel did not come up: {error}\n{logs}") from error
    return kannel


def _exited(processes: list[subprocess.Popen[bytes]]) -> bool:
    return any(process.poll() is not None for process in processes)


# Jasmin.


def jasmin_venv() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(os.environ.get("FASTSOCK_JASMIN_VENV") or cache / "fastsock" / "jasmin-venv")


@dataclass
class RunningJasmin:
    http_url: str
    username: str
    password: str
    root: Path
    process: subprocess.Popen[bytes]
    redis: subprocess.Popen[bytes]
    vhost: str
    redis_port: int = 0

    def matches_receipts_for(self, smsc_message_id: str) -> bool:
        """Whether Jasmin can match a receipt for ``smsc_message_id`` to its message yet.

        Jasmin 0.11.0 throws the level 1 report (the SMSC took it) before it stores that map, and
        drops a receipt that comes in between after one retry (none when two copies come at once).
        """
        return _redis_command(self.redis_port, f"EXISTS queue-msgid:{smsc_message_id}") == b":1"

    def logs(self) -> str:
        return log_tail(self.root / "jasmind.out", *sorted((self.root / "var/log/jasmin").glob("*.log")))

    def stop(self) -> None:
        stop_process(self.process, grace_seconds=10)
        stop_process(self.redis, grace_seconds=5)
        _rabbitmqctl("delete_vhost", self.vhost, check=False)


def _rabbitmqctl(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["rabbitmqctl", "-q", *arguments], capture_output=True, text=True, timeout=60, check=check)


def jasmin_requirements() -> Path:
    """The venv's jasmind.py, once Jasmin, RabbitMQ and redis-server are all here."""
    venv = jasmin_venv()
    jasmind = venv / "bin" / "jasmind.py"
    if not jasmind.exists():
        raise GatewayUnavailable(f"needs the Jasmin venv at {venv}: run {JASMIN_VENV_STEP}")
    listeners = next((venv / "lib").glob("python3*/site-packages/jasmin/managers/listeners.py"), None)
    if listeners is not None and "_pdu.response." in listeners.read_text():
        # jookies/jasmin#1236: 0.11.1 as released never throws the final delivery report.
        raise GatewayUnavailable(f"the Jasmin venv at {venv} has 0.11.1 unpatched: rerun {JASMIN_VENV_STEP}")
    if shutil.which("rabbitmqctl") is None or not port_open(RABBITMQ_PORT):
        raise GatewayUnavailable("needs RabbitMQ on 127.0.0.1:5672 (.ci/run starts it)")
    if shutil.which("redis-server") is None:
        raise GatewayUnavailable("needs redis-server (apt-get install redis-server)")
    return jasmind


def jasmin_config(root: Path, *, ports: dict[str, int], vhost: str, redis_port: int, spec: Path) -> Path:
    config_dir = root / "etc" / "jasmin"
    (config_dir / "store").mkdir(parents=True)
    (root / "var" / "log" / "jasmin").mkdir(parents=True)
    sections = {
        "smpp-server": {"bind": "127.0.0.1", "port": ports["smpp-server"]},
        "smpp-server-pb": {"bind": "127.0.0.1", "port": ports["smpp-server-pb"]},
        "smpp-server-pb-client": {"host": "127.0.0.1", "port": ports["smpp-server-pb"]},
        "client-management": {"bind": "127.0.0.1", "port": ports["client-management"]},
        "router": {"bind": "127.0.0.1", "port": ports["router"]},
        "interceptor": {"bind": "127.0.0.1", "port": ports["interceptor"]},
        "interceptor-client": {"host": "127.0.0.1", "port": ports["interceptor"]},
        "http-api": {"bind": "127.0.0.1", "port": ports["http-api"]},
        "jcli": {"bind": "127.0.0.1", "port": ports["jcli"]},
        "redis-client": {"host": "127.0.0.1", "port": redis_port, "dbid": 0},
        "amqp-broker": {"host": "127.0.0.1", "port": RABBITMQ_PORT, "vhost": vhost, "spec": spec},
        # A report that comes before Jasmin stored its id mapping is looked up again this soon.
        "sm-listener": {"dlr_lookup_retry_delay": 1},
        "dlr": {"dlr_lookup_retry_delay": 1},
        "dlr-thrower": {"retry_delay": 2, "max_retries": 3},
        "deliversm-thrower": {"retry_delay": 2, "max_retries": 3},
    }
    config = config_dir / "jasmin.cfg"
    config.write_text(
        "".join(
            f"[{name}]\n" + "".join(f"{key} = {value}\n" for key, value in options.items()) + "\n"
            for name, options in sections.items()
        )
    )
    return config


# jasmind.py takes a machine-wide lock on /tmp/jasmind; each test Jasmin takes one in its own folder.
JASMIND_LAUNCHER = """
import runpy, sys, lockfile
lock_path = sys.argv.pop(1)
original = lockfile.FileLock
lockfile.FileLock = lambda _path, *args, **kwargs: original(lock_path, *args, **kwargs)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def start_redis(folder: Path, *, timeout: float = 10) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(folder), "--logfile", str(folder / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: _redis_pong(port) or process.poll() is not None, timeout=timeout, what="Redis")
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited:\n{log_tail(folder / 'redis.log')}")
    except BaseException:
        stop_process(process, grace_seconds=5)
        raise
    return process, port


def _redis_pong(port: int) -> bool:
    return _redis_command(port, "PING") == b"+PONG"


def _redis_command(port: int, command: str) -> bytes:
    """An inline command's one-line answer (``+PONG``, ``:1``), or b"" when Redis does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(command.encode() + b"\r\n")
            return connection.recv(256).split(b"\r\n", 1)[0]
    except OSError:
        return b""


def start_jasmin(
    root: Path, *, smsc_port: int, mo_url: str, password: str | None = None, timeout: float = 30
) -> RunningJasmin:
    """Start jasmind with a user, an SMPP client connector to the simulator and MT/MO routes.

    ``password`` (default: a random one; Jasmin takes 1 to 16 characters) is the user's.
    """
    jasmind = jasmin_requirements()
    venv = jasmind.parent.parent
    spec = next((venv / "lib").glob("python3*/site-packages/txamqp/specs/standard/amqp0-9-1.stripped.xml"))
    ports = {name: free_port() for name in ("smpp-server", "smpp-server-pb", "client-management", "router",
                                            "interceptor", "http-api", "jcli")}  # fmt: skip
    vhost = f"fastsock-test-{secrets.token_hex(4)}"
    redis, redis_port = start_redis(root)
    jasmin: RunningJasmin | None = None
    try:
        _rabbitmqctl("add_vhost", vhost)
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        config = jasmin_config(root, ports=ports, vhost=vhost, redis_port=redis_port, spec=spec)
        flags = ["--enable-dlr-lookup", "--enable-dlr-thrower"]
        if "enable-deliver-thrower" in jasmind.read_text():
            flags.append("--enable-deliver-thrower")  # 0.11.1 starts it only when asked
        # Only what Jasmin needs: it reads REDIS_URL, CLOUDAMQP_URL and SECTION_OPTION overrides.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "ROOT_PATH": str(root),
               "LANG": "C.UTF-8"}  # fmt: skip
        with (root / "jasmind.out").open("wb") as out:
            process = subprocess.Popen(
                [str(venv / "bin" / "python"), "-c", JASMIND_LAUNCHER, str(root / "jasmind.lock"), str(jasmind),
                 "-c", str(config), *flags],
                stdout=out, stderr=out, env=env, cwd=root,
            )  # fmt: skip
        password = password or secrets.token_hex(6)
        jasmin = RunningJasmin(
            f"http://127.0.0.1:{ports['http-api']}", "fastsock", password, root, process, redis, vhost, redis_port
        )
        wait_until(
            lambda: (port_open(ports["jcli"]) and port_open(ports["http-api"])) or process.poll() is not None,
            timeout=timeout,
            what="jasmind's HTTP API and jCli",
        )
        if process.poll() is not None:
            raise RuntimeError("jasmind exited")
        with JCli(ports["jcli"]) as jcli:
            jcli.run("group -a", "gid fastsock", "ok")
            jcli.run("user -a", "username fastsock", f"password {password}", "gid fastsock", "uid fastsock", "ok")
            jcli.run(
                "smppccm -a", "cid sim", "host 127.0.0.1", f"port {smsc_port}", "username jasmin", "password jasmin",
                "submit_throughput 0", "ok",
            )  # fmt: skip
            jcli.run("smppccm -1 sim")
            jcli.run("mtrouter -a", "type DefaultRoute", "connector smppc(sim)", "rate 0.00", "ok")
            jcli.run("httpccm -a", "cid fastsock", f"url {mo_url}", "method POST", "ok")
            jcli.run("morouter -a", "type DefaultRoute", "connector http(fastsock)", "ok")
            wait_until(
                lambda: "BOUND_TRX" in jcli.run("smppccm -l"), timeout=timeout, what="Jasmin bound", interval=0.2
            )
    except BaseException as error:
        if jasmin is not None:
            logs = jasmin.logs()
            jasmin.stop()
        else:
            logs = ""
            stop_process(redis, grace_seconds=5)
            _rabbitmqctl("delete_vhost", vhost, check=False)
        raise RuntimeError(f"Jasmin did not come up: {error}\n{logs}") from error
    return jasmin


class JCli:
    """A minimal telnet client for jCli: refuses every option, sends lines, reads to the prompt."""

    IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
    PROMPT = re.compile(rb"(jcli : |> )$")

    def __init__(self, port: int, username: str = "jcliadmin", password: str = "jclipwd") -> None:  # noqa: S107 - jCli's default, 127.0.0.1 only
        self.port, self.username, self.password = port, username, password

    def __enter__(self) -> JCli:
        self.connection = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self._buffer = b""
        # jCli shows its login prompt only once the client has said something.
        self._read_until(re.compile(rb"Authentication required\.\s*$|Username: $"))
        self.connection.sendall(self.username.encode() + b"\r\n")
        self._read_until(re.compile(rb"Password: $"))
        self.connection.sendall(self.password.encode() + b"\r\n")
        self._read_until(self.PROMPT)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with suppress(OSError):
            self.connection.sendall(b"quit\r\n")
        self.connection.close()

    def run(self, *lines: str) -> str:
        """Send ``lines`` (one command, with its ``key value`` lines); raise if jCli complains."""
        output = []
        for line in lines:
            self.connection.sendall(line.encode() + b"\r\n")
            output.append(self._read_until(self.PROMPT).decode(errors="replace"))
        text = "".join(output)
        if re.search(r"Error|Unknown|Unrecognized|Incorrect|not added|Failed", text):
            raise RuntimeError(f"jCli refused {lines[0]!r}: {text.strip()}")
        return text

    def _read_until(self, pattern: re.Pattern[bytes], timeout: float = 10) -> bytes:
        deadline = time.monotonic() + timeout
        while not pattern.search(self._buffer):
            if time.monotonic() > deadline:
                raise TimeoutError(f"jCli did not answer: {self._buffer[-300:]!r}")
            self.connection.settimeout(max(deadline - time.monotonic(), 0.01))
            chunk = self.connection.recv(4096)
            if not chunk:
                raise ConnectionError("jCli closed the connection")
            self._buffer += self._negotiate(chunk)
        text, self._buffer = self._buffer, b""
        return text

    def _negotiate(self, data: bytes) -> bytes:
        """Strip telnet commands from ``data``, refusing each option the server offers or asks for."""
        text, index = bytearray(), 0
        while index < len(data):
            byte = data[index]
            if byte != self.IAC or index + 1 >= len(data):
                text.append(byte)
                index += 1
                continue
            command = data[index + 1]
            if command in (self.DO, self.DONT, self.WILL, self.WONT) and index + 2 < len(data):
                option = data[index + 2]
                if command == self.DO:
                    self.connection.sendall(bytes((self.IAC, self.WONT, option)))
                elif command == self.WILL:
                    self.connection.sendall(bytes((self.IAC, self.DONT, option)))
                index += 3
            elif command == self.SB:
                end = data.find(bytes((self.IAC, self.SE)), index)
                index = len(data) if end < 0 else end + 2
            else:
                index += 2
        return bytes(text)


# FastSock's side: servers and Celery workers that share a queue no other run on the same Redis sees.


def own_celery_queue() -> dict[str, str]:
    """Environment for servers and workers (with ``REDIS_URL`` set) whose tasks go to a queue of
    their own (``CELERY_QUEUE``), so a parallel run or another test's worker never takes them."""
    return {
        "CELERY_QUEUE": f"fastsock-test-{os.getpid()}-{secrets.token_hex(4)}",
        "CELERY_BROKER_URL": os.environ["REDIS_URL"],
    }


def start_celery_worker(
    env: dict[str, str], log_file: Path, *, pool: str = "solo", concurrency: int = 1, loglevel: str = "INFO"
) -> subprocess.Popen[bytes]:
    """``celery -A fastsock worker`` with ``env`` (a server's, for its database and queue); at
    ``loglevel`` INFO its log says ``ready`` once it takes tasks."""
    with log_file.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "fastsock", "worker", f"--pool={pool}",
             f"--concurrency={concurrency}", f"--hostname=test-{secrets.token_hex(4)}@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat", f"--loglevel={loglevel}"],
            cwd=Path(__file__).resolve().parent.parent, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
