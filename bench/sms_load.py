"""SMS load: the API's accept rate, and messages end to end through a real gateway.

    python -m bench.sms_load                                  # Kannel, 2 Daphne, 2 workers
    python -m bench.sms_load --rate 100 --duration 30         # (a) at 100 messages/s
    python -m bench.sms_load --clients 16 --duration 20 --messages 2000 --workers 3
    python -m bench.sms_load --gateway jasmin

It starts everything itself: ``--processes`` Daphne processes (``manage.py serve``) on a scratch
PostgreSQL database beside DATABASE_URL, ``--workers`` Celery worker processes (``--threads``
threads each) on a Celery queue of their own in REDIS_URL, a real Kannel (or Jasmin) from the
test harness bound over SMPP to the SMSC simulator, which answers every submit and sends its
DELIVRD receipt at once. The gateway's callbacks reach every Daphne process in turn through a
round-robin proxy (``--callbacks first``: the first process takes them all). Then:

(a) accept: ``--clients`` concurrent clients POST /v1/messages with an API key for
    ``--duration`` seconds (at most 60), back to back or, with ``--rate``, at that many messages
    per second in all (open loop: a late answer does not delay the next message): requests/s,
    latency percentiles, errors. The workers send these meanwhile, as in production; the part
    ends once they are all delivered (or ``--drain-timeout``), which gives the sustained
    end-to-end rate under that load.
(b) end to end: ``--messages`` messages posted as fast as the clients go, timed until every one
    is ``delivered``: messages/s, accept→delivered latency from the database's own timestamps,
    and lost or duplicated messages (each must reach the simulator exactly once).

Prints one JSON object on stdout; progress on stderr. Every loop is bounded in count and time;
traffic stays on 127.0.0.1. ``problems`` lists what went wrong, and the exit status is 1 if
anything did: a message lost (never reached the network) or sent twice, one not delivered by the
end (stuck in ``sent``, say, or failed), an answer of 5xx to a client or in a server's log (any
path: delivery reports included), or a request that got no answer at all.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastsock.settings.test")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django

django.setup()

import psycopg  # noqa: E402

from bench.stats import percentile, summary  # noqa: E402
from bench.ws_load import process_stats  # noqa: E402
from fastsock.core.testing import free_port, stop_process  # noqa: E402
from tests.servers import RunningServer, daphne_servers  # noqa: E402
from tests.sms_gateways import (  # noqa: E402
    GatewayUnavailable,
    own_celery_queue,
    start_celery_worker,
    start_jasmin,
    start_kannel,
)
from tests.smsc_simulator import SmscSimulator  # noqa: E402

PASSWORD = "bench-password-not-secret"
WEBHOOK_SECRET = "bench-webhook-secret-not-secret"
GATEWAY_PASSWORD = "bench-gw-pw"  # Jasmin takes at most 16 characters
SENDER = "+14155550100"
HANDSET = "+33600000001"
MAX_DURATION = 60
MAX_MESSAGES = 20_000
FINAL = ("delivered", "undelivered", "failed")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Client:
    """One keep-alive HTTP connection to one server, as a client library would hold."""

    def __init__(self, server: RunningServer, api_key: str) -> None:
        address = urlsplit(server.base_url)
        self.connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        self.headers = {"Authorization": f"ApiKey {api_key}", "Content-Type": "application/json"}

    def send(self, body: str) -> tuple[int, float]:
        """POST one message; (status, milliseconds)."""
        payload = json.dumps({"to": HANDSET, "from": SENDER, "body": body})
        started = time.perf_counter()
        try:
            self.connection.request("POST", "/v1/messages", payload, self.headers)
            response = self.connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            self.connection.close()  # reconnects on the next request
            status = 0
        return status, (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.connection.close()


def request_json(server: RunningServer, method: str, path: str, body: dict, token: str | None = None) -> dict:
    address = urlsplit(server.base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    try:
        connection.request(method, path, json.dumps(body), headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        if response.status >= 300:
            raise RuntimeError(f"{method} {path} → {response.status} {answer}")
        return answer
    finally:
        connection.close()


def project_key(server: RunningServer) -> tuple[int, str]:
    """A person, a project and an API key, over the HTTP API: (project id, key)."""
    request_json(server, "POST", "/api/v1/auth/register", {"username": "bench", "password": PASSWORD})
    token = request_json(server, "POST", "/api/v1/auth/token", {"username": "bench", "password": PASSWORD})["access"]
    project = request_json(server, "POST", "/v1/projects", {"name": "SMS load"}, token)
    key = request_json(server, "POST", f"/v1/projects/{project['id']}/keys", {"name": "bench"}, token)["key"]
    return project["id"], key


def post_messages(
    clients: list[Client],
    *,
    prefix: str,
    count: int | None = None,
    seconds: float | None = None,
    rate: float | None = None,
) -> dict[str, Any]:
    """The clients post messages until ``count`` in all, or ``seconds``, whichever comes first:
    back to back, or message n due ``n / rate`` seconds in (a client that is free takes the next
    due one; ``behind_ms`` says how late the last one went out). Bodies are
    ``<prefix>|<client>|<n>``, unique per message."""
    total = count if count is not None else MAX_MESSAGES
    deadline = time.monotonic() + (seconds if seconds is not None else MAX_DURATION * 5)
    claimed = iter(range(total))
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    slow: list[tuple[float, float]] = []  # (seconds into the part, milliseconds) over a second
    behind = [0.0]

    def run(index: int) -> None:
        client = clients[index]
        while time.monotonic() < deadline:
            with lock:
                n = next(claimed, None)
            if n is None:
                return
            if rate:
                wait = started + n / rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                elif time.monotonic() >= deadline:
                    return
                behind[0] = max(0.0, -wait)
            sent_at = time.perf_counter() - started
            status, ms = client.send(f"{prefix}|{index}|{n}")
            with lock:
                statuses[status] += 1
                if status == 201:
                    latencies.append(ms)
                if ms > 1000:
                    slow.append((round(sent_at, 2), round(ms)))

    started = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(run, range(len(clients))))
    elapsed = time.perf_counter() - started
    return {
        "elapsed": elapsed,
        "accepted": statuses[201],
        "errors": {str(status): n for status, n in statuses.items() if status != 201},
        "latency": summary(latencies, elapsed),
        "over_1s": sorted(slow),
        "behind_ms": round(behind[0] * 1000),
    }


def message_rows(database_url: str, prefix: str) -> list[tuple[str, str, Any, Any]]:
    """(body, status, created_at, delivered_at) of the messages whose body starts with ``prefix``."""
    with psycopg.connect(database_url) as connection:
        return connection.execute(
            "SELECT body, status, created_at, delivered_at FROM telecom_smsmessage WHERE body LIKE %s",
            (f"{prefix}|%",),
        ).fetchall()


def wait_until_final(
    database_url: str, prefix: str, expected: int, *, timeout: float, processes: list[Any]
) -> tuple[list[tuple[str, str, Any, Any]], float]:
    """Poll until ``expected`` messages with ``prefix`` are final (bounded); (rows, seconds waited)."""
    started = time.monotonic()
    while True:
        rows = message_rows(database_url, prefix)
        done = sum(1 for row in rows if row[1] in FINAL)
        if done >= expected or time.monotonic() - started > timeout:
            return rows, time.monotonic() - started
        dead = [process.pid for process in processes if process.poll() is not None]
        if dead:
            raise RuntimeError(f"processes {dead} exited")
        log(f"  {done}/{expected} final")
        time.sleep(1)


def end_to_end(rows: list[tuple[str, str, Any, Any]], smsc: SmscSimulator, prefix: str) -> dict[str, Any]:
    """Rates, accept→delivered latency and exactly-once delivery to the network for ``rows``."""
    delivered = [row for row in rows if row[1] == "delivered"]
    latencies = [(row[3] - row[2]).total_seconds() * 1000 for row in delivered]
    first = min((row[2] for row in rows), default=None)
    last = max((row[3] for row in delivered), default=None)
    span = (last - first).total_seconds() if first and last else 0.0
    submits = Counter(m.text for m in list(smsc.submitted) if m.text.startswith(f"{prefix}|"))
    bodies = {row[0] for row in rows}
    statuses = Counter(row[1] for row in rows)
    return {
        "messages": len(rows),
        "statuses": dict(statuses),
        # Still on the way when the drain timed out (a lost delivery report leaves one "sent").
        "stuck": {status: n for status, n in statuses.items() if status not in FINAL},
        "failed": {status: n for status, n in statuses.items() if status in FINAL and status != "delivered"},
        "delivered_per_s": round(len(delivered) / span, 1) if span else 0.0,
        "first_accept_to_last_delivered_s": round(span, 2),
        "accept_to_delivered_ms": {
            "p50": round(percentile(latencies, 0.5), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies, default=0.0), 1),
        },
        "lost": len([body for body in bodies if submits[body] == 0]),
        "duplicates": sum(count - 1 for count in submits.values() if count > 1),
    }


def cpu_percent(pids: list[int], before: list[tuple[float, int]], seconds: float) -> list[float]:
    return [round((process_stats(pid)[0] - b[0]) / seconds * 100, 1) for pid, b in zip(pids, before, strict=True)]


def server_errors(logs: list[Path]) -> dict[str, int]:
    """Answers of 5xx that the servers logged, by path (delivery reports included): Django logs
    each at ERROR, also at ``--log-level WARNING``."""
    found: Counter[str] = Counter()
    for log_file in logs:
        for line in log_file.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and int(record.get("status_code") or 0) >= 500:
                path = str(record.get("event", "")).rsplit(": ", 1)[-1]
                found[f"{record['status_code']} {path}"] += 1
    return dict(found)


def problems_in(result: dict[str, Any]) -> list[str]:
    """What went wrong in a run, one line each; empty when every message went out once and was
    delivered, and every request got an answer below 500."""
    found = []
    for part, key in (("accept", "then_delivered"), ("end_to_end", None)):
        outcome = result[part][key] if key else result[part]
        errors = result[part]["errors" if key else "post_errors"]
        for name in ("lost", "duplicates"):
            if outcome[name]:
                found.append(f"{part}: {outcome[name]} messages {name}")
        for label, counts in (("not final at the end", outcome["stuck"]), ("not delivered", outcome["failed"])):
            if counts:
                found.append(f"{part}: {label}: {counts}")
        server = {status: n for status, n in errors.items() if status.startswith("5")}
        if server:
            found.append(f"{part}: POST /v1/messages answered {server}")
        if errors.get("0"):
            found.append(f"{part}: {errors['0']} POSTs got no answer (connection error or timeout)")
    if result["server_errors"]:
        found.append(f"servers logged 5xx answers: {result['server_errors']}")
    return found


def round_robin_proxy(port: int, servers: list[RunningServer], log_file: Path) -> subprocess.Popen[bytes]:
    """``bench.round_robin`` on ``port`` in front of ``servers``, once it listens."""
    targets = [argument for server in servers for argument in ("--to", urlsplit(server.base_url).netloc)]
    with log_file.open("wb") as output:
        proxy = subprocess.Popen(
            [sys.executable, "-m", "bench.round_robin", "--port", str(port), *targets],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 10
    while True:
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            probe.connect()
            return proxy
        except OSError:
            if proxy.poll() is not None or time.monotonic() > deadline:
                stop_process(proxy)
                raise RuntimeError(f"bench.round_robin did not start: {log_file.read_text()}") from None
            time.sleep(0.05)
        finally:
            probe.close()


def run(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    extra_env = {
        **own_celery_queue(),
        "LOG_LEVEL": args.log_level,
        "RATE_LIMIT_SMS_PROJECT": "10000000/m",
        "RATE_LIMIT_SMS_KEY": "10000000/m",
        "BENCH_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "BENCH_GATEWAY_USERNAME": "fastsock",
        "BENCH_GATEWAY_PASSWORD": GATEWAY_PASSWORD,
    }
    spread = args.callbacks == "all" and args.processes > 1
    if spread:
        # The gateway's callbacks go to the proxy, which hands them to every process in turn.
        callback_port = free_port()
        extra_env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{callback_port}"
    with ExitStack() as stack:
        log(f"setup: {args.processes} Daphne processes on a scratch database")
        servers = stack.enter_context(daphne_servers(scratch, count=args.processes, extra_env=extra_env))
        first = servers[0]
        database_url = first.env["DATABASE_URL"]
        proxies = []
        if spread:
            proxies.append(round_robin_proxy(callback_port, servers, scratch / "round-robin.log"))
            stack.callback(stop_process, proxies[0])
        workers = []
        for n in range(args.workers):
            worker = start_celery_worker(
                first.env, scratch / f"worker-{n}.log", pool=args.pool, concurrency=args.threads, loglevel="WARNING"
            )
            stack.callback(stop_process, worker, grace_seconds=20)
            workers.append(worker)
        smsc = SmscSimulator(auto_receipt="DELIVRD", receipt_delay=0.0).start()
        stack.callback(smsc.stop)
        log(f"setup: {args.gateway}")
        mo_url = f"{first.base_url}/webhooks/sms/bench/inbound"
        (scratch / args.gateway).mkdir()
        if args.gateway == "kannel":
            gateway = start_kannel(
                scratch / "kannel", smsc_port=smsc.port, mo_url=mo_url, password=GATEWAY_PASSWORD,
                global_sender=None, log_level=args.kannel_log_level,
            )  # fmt: skip
            gateway_url = gateway.sendsms_url
            gateway_pids = [process.pid for process in gateway.processes]
        else:
            gateway = start_jasmin(scratch / "jasmin", smsc_port=smsc.port, mo_url=mo_url, password=GATEWAY_PASSWORD)
            gateway_url = gateway.http_url
            gateway_pids = [gateway.process.pid]
        stack.callback(gateway.stop)
        smsc.wait_for_bind()
        project_id, api_key = project_key(first)
        first.manage(
            "telecom_connector", "bench", "--kind", args.gateway, "--url", gateway_url,
            "--username-env", "BENCH_GATEWAY_USERNAME", "--password-env", "BENCH_GATEWAY_PASSWORD",
            "--webhook-secret-env", "BENCH_WEBHOOK_SECRET", "--allow", "127.0.0.1/32",
        )  # fmt: skip
        first.manage("telecom_number", SENDER, "--project", str(project_id), "--connector", "bench")
        clients = [Client(servers[n % len(servers)], api_key) for n in range(args.clients)]
        for client in clients:
            stack.callback(client.close)
        groups = {
            "daphne": [server.process.pid for server in servers],
            "workers": [worker.pid for worker in workers],
            args.gateway: gateway_pids,
            "callback_proxy": [proxy.pid for proxy in proxies],
        }
        pids = [pid for members in groups.values() for pid in members]

        log("warm-up: 50 messages")
        post_messages(clients, prefix="warm", count=50)
        wait_until_final(database_url, "warm", 50, timeout=args.drain_timeout, processes=workers)

        pace = f"at {args.rate:g} messages/s" if args.rate else "back to back"
        log(f"(a) accept: {args.clients} clients {pace} for {args.duration:.0f} s")
        before, own_before = [process_stats(pid) for pid in pids], time.process_time()
        accept = post_messages(clients, prefix="accept", seconds=args.duration, rate=args.rate or None)
        accept_cpu = cpu_percent(pids, before, accept["elapsed"])
        accept_own_cpu = (time.process_time() - own_before) / accept["elapsed"] * 100
        log(f"(a) {accept['accepted']} accepted; waiting for them to be delivered")
        rows, drained = wait_until_final(
            database_url, "accept", accept["accepted"], timeout=args.drain_timeout, processes=workers
        )
        accept_e2e = end_to_end(rows, smsc, "accept")

        log(f"(b) end to end: {args.messages} messages")
        before, own_before = [process_stats(pid) for pid in pids], time.process_time()
        started = time.monotonic()
        posted = post_messages(clients, prefix="e2e", count=args.messages)
        rows, _ = wait_until_final(
            database_url, "e2e", posted["accepted"], timeout=args.drain_timeout, processes=workers
        )
        e2e_seconds = time.monotonic() - started
        e2e_cpu = cpu_percent(pids, before, e2e_seconds)
        e2e_own_cpu = (time.process_time() - own_before) / e2e_seconds * 100
        e2e = end_to_end(rows, smsc, "e2e")

    def cpu(values: list[float], own: float) -> dict[str, Any]:
        """Per process, by group; the load generator runs the clients and the SMSC simulator."""
        shares: dict[str, Any] = {}
        for name, members in groups.items():
            if members:
                shares[name], values = values[: len(members)], values[len(members) :]
        return {**shares, "load_generator": round(own, 1)}

    def cpu_per_message(shares: dict[str, Any], seconds: float, messages: int) -> dict[str, float]:
        """CPU milliseconds per message by group (PostgreSQL and Redis not counted): steadier than
        rates on a machine that other work shares."""
        per = {
            name: round(sum(share if isinstance(share, list) else [share]) * seconds * 10 / messages, 1)
            for name, share in shares.items()
        }
        return {**per, "total": round(sum(per.values()), 1)}

    result = {
        "gateway": args.gateway,
        "daphne_processes": args.processes,
        "callbacks": "every process, in turn" if spread else "the first process",
        "celery_workers": args.workers,
        "worker_pool": f"{args.pool}, {args.threads} each",
        "clients": args.clients,
        "accept": {
            "seconds": round(accept["elapsed"], 1),
            "target_per_s": args.rate or None,
            "behind_ms": accept["behind_ms"],
            "requests_per_s": accept["latency"]["per_second"],
            "latency_ms": {k: v for k, v in accept["latency"].items() if k.endswith("_ms")},
            "accepted": accept["accepted"],
            "errors": accept["errors"],
            "requests_over_1s": len(accept["over_1s"]),
            "first_over_1s": accept["over_1s"][:5],  # (seconds into the part, milliseconds)
            "cpu_percent": cpu(accept_cpu, accept_own_cpu),
            "then_delivered": {**accept_e2e, "drain_after_sending_s": round(drained, 1)},
        },
        "end_to_end": {
            **e2e,
            "post_seconds": round(posted["elapsed"], 2),
            "post_errors": posted["errors"],
            "post_requests_over_1s": len(posted["over_1s"]),
            "cpu_percent": cpu(e2e_cpu, e2e_own_cpu),
            "cpu_ms_per_message": cpu_per_message(cpu(e2e_cpu, e2e_own_cpu), e2e_seconds, max(1, len(rows))),
        },
        "server_errors": server_errors([server.log_file for server in servers]),
    }
    result["problems"] = problems_in(result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", choices=["kannel", "jasmin"], default="kannel")
    parser.add_argument("--processes", type=int, default=2, help="Daphne processes")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads (or processes) per worker")
    parser.add_argument("--pool", choices=["threads", "prefork"], default="threads", help="Celery worker pool")
    parser.add_argument("--clients", type=int, default=16, help="concurrent API clients")
    parser.add_argument("--duration", type=float, default=15, help=f"seconds of (a), at most {MAX_DURATION}")
    parser.add_argument("--rate", type=float, default=0, help="messages per second in (a), in all (0: back to back)")
    parser.add_argument(
        "--callbacks",
        choices=["all", "first"],
        default="all",
        help="which Daphne processes take the gateway's callbacks",
    )
    parser.add_argument("--kannel-log-level", type=int, default=1, help="Kannel's (0 logs every PDU and request)")
    parser.add_argument("--messages", type=int, default=1000, help=f"messages in (b), at most {MAX_MESSAGES}")
    parser.add_argument("--drain-timeout", type=float, default=180, help="seconds to wait for deliveries")
    parser.add_argument("--log-level", default="WARNING", help="of the servers and workers (INFO logs each request)")
    parser.add_argument("--keep", type=Path, help="keep the servers', workers' and gateway's logs in this new folder")
    args = parser.parse_args()
    args.duration = min(args.duration, MAX_DURATION)
    args.messages = min(args.messages, MAX_MESSAGES)
    if not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")):
        sys.exit("bench.sms_load needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL")
    with ExitStack() as stack:
        if args.keep:
            args.keep.mkdir(parents=True)
        scratch = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        try:
            result = run(args, scratch)
        except GatewayUnavailable as missing:
            sys.exit(f"bench.sms_load: {missing}")
    print(json.dumps(result, indent=2))
    for problem in result["problems"]:
        log(f"PROBLEM: {problem}")
    sys.exit(1 if result["problems"] else 0)


if __name__ == "__main__":
    main()
