"""WebSocket chat load: U users with open sockets in R rooms of M members, S senders at a fixed
open-loop rate. Reports achieved messages/s and deliveries/s, send→receive latency percentiles,
losses and duplicates, and the server processes' CPU and memory.

    python -m bench.ws_load --users 20 --rooms 1 --members 20 --senders 5 --rate 50
    python -m bench.ws_load --users 100 --rooms 10 --members 10 --senders 20 --rate 200
    python -m bench.ws_load --idle 2000          # memory per idle socket

It starts its own servers (``--processes`` Daphne processes via ``manage.py serve``) on a scratch
database; set DATABASE_URL and REDIS_URL for the production set-up. Every loop is bounded in
count and time; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import percentile

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastsock.settings.test")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django

django.setup()

from websockets.asyncio.client import connect  # noqa: E402

from tests.servers import daphne_servers  # noqa: E402

PASSWORD = "bench-password-not-secret"
SERVER_ENV = {
    "LOG_LEVEL": "WARNING",
    "RATE_LIMIT_REGISTER_IP": "1000000/m",
    "RATE_LIMIT_LOGIN_IP": "1000000/m",
    "RATE_LIMIT_LOGIN_USERNAME": "1000000/m",
    "RATE_LIMIT_MESSAGE_USER": "1000000/m",
    "RATE_LIMIT_ROOM_USER": "1000000/h",
    "WS_FRAMES_PER_SECOND": "100000",
    "WS_FRAME_BURST": "100000",
}


UNREAD_PREFIX = '{"event":"unread",'


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def post(base: str, path: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, json.dumps(body).encode(), headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
        return json.loads(response.read())


def process_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds used so far, resident bytes) of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        parts = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(parts[11]) + int(parts[12])) / ticks
    with open(f"/proc/{pid}/statm") as statm:
        rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


@dataclass
class Totals:
    sent: int = 0
    acked: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    received: dict[str, int] = field(default_factory=dict)  # "<receiver>:<client_id>" -> count
    sent_by: dict[str, int] = field(default_factory=dict)


async def receiver(name: str, socket: Any, totals: Totals, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            raw = await asyncio.wait_for(socket.recv(), timeout=0.5)
        except TimeoutError:
            continue
        if raw.startswith(UNREAD_PREFIX):
            continue  # not measured; skipping its parse leaves the shared CPU to the servers
        frame = json.loads(raw)
        if frame["event"] == "message.ack":
            totals.acked += 1
        elif frame["event"] == "error":
            totals.errors += 1
        elif frame["event"] == "message.new":
            content = frame["data"]["message"]["content"]
            if not content.startswith("bench|"):
                continue
            _, sender, client_id, sent_at = content.split("|")
            if sender == name:
                continue  # the sender's own copy
            key = f"{name}:{client_id}"
            totals.received[key] = totals.received.get(key, 0) + 1
            totals.latencies_ms.append((time.time() - float(sent_at)) * 1000)


async def sender(
    name: str, socket: Any, room_id: int, interval: float, offset: float, until: float, totals: Totals
) -> None:
    next_at = time.monotonic() + offset
    n = 0
    while next_at < until:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        client_id = f"{name}-{n}"
        content = f"bench|{name}|{client_id}|{time.time():.6f}"
        await socket.send(
            json.dumps(
                {"event": "message.send", "data": {"room_id": room_id, "content": content, "client_id": client_id}}
            )
        )
        totals.sent += 1
        totals.sent_by[name] = totals.sent_by.get(name, 0) + 1
        n += 1
        next_at += interval  # open loop: the schedule does not wait for answers


async def run_load(servers: list[Any], args: argparse.Namespace) -> dict[str, Any]:
    base = servers[0].base_url
    users = []
    log(f"setup: registering {args.users} users")
    for n in range(args.users):
        name = f"user{n}"
        profile = post(base, "/api/v1/auth/register", {"username": name, "password": PASSWORD})
        token = post(base, "/api/v1/auth/token", {"username": name, "password": PASSWORD})["access"]
        users.append((name, profile["id"], token))
    rooms: list[tuple[int, list[int]]] = []
    for r in range(args.rooms):
        members = [(r * args.members + m) % args.users for m in range(args.members)]
        owner = users[members[0]]
        room = post(
            base, "/api/v1/rooms", {"name": f"room {r}", "member_ids": [users[i][1] for i in members[1:]]}, owner[2]
        )
        rooms.append((room["id"], members))
    room_of = {}
    for room_id, members in rooms:
        for index in members:
            room_of.setdefault(index, (room_id, len(members)))
    # Senders are spread over the rooms round-robin (the first member of each room, then the
    # second…), so that 20 senders in 10 rooms means two per room, not all in the first two.
    by_position = [members[position] for position in range(args.members) for _room_id, members in rooms]
    sender_indexes = list(dict.fromkeys(by_position))[: args.senders]

    totals = Totals()
    stop = asyncio.Event()
    sockets = []
    for index, (_name, _, token) in enumerate(users):
        server = servers[index % len(servers)]  # spread sockets over the processes
        sockets.append(await connect(f"{server.ws_url}/ws/?token={token}", max_size=2**20))
    receivers = [asyncio.create_task(receiver(users[i][0], s, totals, stop)) for i, s in enumerate(sockets)]
    await asyncio.sleep(1)
    before = [process_stats(server.process.pid) for server in servers]
    loadgen_before = time.process_time()
    log(f"load: sending for {args.duration:.0f}s; server pids {[server.process.pid for server in servers]}")
    started = time.monotonic()
    until = started + args.duration
    interval = args.senders / args.rate
    senders = [
        # Staggered: together the senders send evenly at --rate, not in bursts of --senders.
        asyncio.create_task(
            sender(users[i][0], sockets[i], room_of[i][0], interval, n * interval / len(sender_indexes), until, totals)
        )
        for n, i in enumerate(sender_indexes)
    ]
    await asyncio.gather(*senders)
    send_elapsed = time.monotonic() - started
    log("load: sending done, draining")
    recipients_of = {users[i][0]: room_of[i][1] - 1 for i in sender_indexes}
    want = sum(recipients_of[name] * count for name, count in totals.sent_by.items())
    drain_deadline = time.monotonic() + 15
    while time.monotonic() < drain_deadline:
        if len(totals.received) >= want and totals.acked + totals.errors >= totals.sent:
            break
        await asyncio.sleep(0.1)
    elapsed = time.monotonic() - started
    after = [process_stats(server.process.pid) for server in servers]
    loadgen_cpu = time.process_time() - loadgen_before
    stop.set()
    await asyncio.gather(*receivers)
    for socket in sockets:
        await socket.close()
    delivered = sum(totals.received.values())
    duplicates = sum(count - 1 for count in totals.received.values() if count > 1)
    return {
        "users": args.users, "rooms": args.rooms, "members": args.members, "senders": args.senders,
        "target_rate": args.rate, "server_processes": len(servers),
        "sent": totals.sent, "acked": totals.acked, "errors": totals.errors,
        "achieved_msgs_per_s": round(totals.sent / send_elapsed, 1),
        "deliveries_expected": want, "deliveries": delivered, "lost": max(0, want - len(totals.received)),
        "duplicates": duplicates, "deliveries_per_s": round(delivered / elapsed, 1),
        "latency_ms": {
            "p50": round(percentile(totals.latencies_ms, 0.5), 2),
            "p95": round(percentile(totals.latencies_ms, 0.95), 2),
            "p99": round(percentile(totals.latencies_ms, 0.99), 2),
            "max": round(max(totals.latencies_ms, default=0), 2),
        },
        "server_cpu_percent": [round((a[0] - b[0]) / elapsed * 100, 1) for a, b in zip(after, before, strict=True)],
        "server_rss_mb": [round(a[1] / 2**20, 1) for a in after],
        "load_generator_cpu_percent": round(loadgen_cpu / elapsed * 100, 1),
    }  # fmt: skip


async def run_idle(servers: list[Any], args: argparse.Namespace) -> dict[str, Any]:
    base = servers[0].base_url
    tokens = []
    for n in range(20):
        post(base, "/api/v1/auth/register", {"username": f"idle{n}", "password": PASSWORD})
        tokens.append(post(base, "/api/v1/auth/token", {"username": f"idle{n}", "password": PASSWORD})["access"])
    server = servers[0]
    await asyncio.sleep(1)
    _, rss_before = process_stats(server.process.pid)
    sockets = []
    for n in range(args.idle):
        sockets.append(await connect(f"{server.ws_url}/ws/?token={tokens[n % len(tokens)]}"))
    await asyncio.sleep(3)
    _, rss_after = process_stats(server.process.pid)
    for socket in sockets:
        await socket.close()
    return {
        "idle_sockets": args.idle,
        "server_rss_before_mb": round(rss_before / 2**20, 1),
        "server_rss_after_mb": round(rss_after / 2**20, 1),
        "kb_per_idle_socket": round((rss_after - rss_before) / args.idle / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rooms", type=int, default=1)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--senders", type=int, default=5)
    parser.add_argument("--rate", type=float, default=50, help="messages per second, all senders together")
    parser.add_argument("--duration", type=float, default=20, help="seconds of sending (at most 120)")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--idle", type=int, default=0, help="measure memory per idle socket instead")
    args = parser.parse_args()
    args.duration = min(args.duration, 120)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    with tempfile.TemporaryDirectory() as scratch:
        count = 1 if args.idle else args.processes
        with daphne_servers(Path(scratch), count=count, extra_env=SERVER_ENV) as servers:
            runner = run_idle if args.idle else run_load
            result = asyncio.run(runner(servers, args))
    result["database"] = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
    result["redis"] = bool(os.environ.get("REDIS_URL"))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
