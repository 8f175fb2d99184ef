"""Chat at scale: one million messages in PostgreSQL, then history, room list and search latency.

Run with ``.venv/bin/python -m bench.chat_scale`` (``DATABASE_URL`` defaults to
``postgres://postgres@127.0.0.1:5432/fastsock``; PostgreSQL only). It

1. creates a scratch database beside ``DATABASE_URL`` and migrates it,
2. loads 2,000 users, 1,000 rooms and 1,000,000 messages with ``COPY`` (a bench user in 200 of
   the rooms, with varied read watermarks so unread counts are real work),
3. runs ``VACUUM ANALYZE``,
4. times the real DRF views in-process (``APIClient`` with a JWT): history pages, the room list
   and search, each bounded in requests and in seconds,
5. prints one JSON object and drops the scratch database, also on failure or Ctrl-C.

The database is made in this process and used in a child process, because Django reads
``DATABASE_URL`` once, at ``django.setup()``, and the scratch database's name is only known
once it exists. ``--explain`` prints ``EXPLAIN (ANALYZE, BUFFERS)`` of every query behind each
measured request to stderr (it is printed anyway for a part that misses its target).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.stats import summary

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fastsock"
SCRATCH_PREFIX = "fastsock_e2e_"

USERS = 2_000
ROOMS = 1_000
MESSAGES = 1_000_000
BENCH_ROOMS = 200
BENCH_USER_ID = 1
SEED = 20_240_601

REQUESTS_PER_PART = 300
WARMUP_REQUESTS = 10
MAX_SECONDS_PER_PART = 45
# Milliseconds, p99, on a 2-core machine.
TARGETS_MS = {"history": 15, "rooms": 50, "search": 100}

# Planted words, each in about one message in 4,000 (some 250 messages, a quarter of them in
# the bench user's rooms).
SELECTIVE_TERMS = ["kubernetes", "grafana", "terraform", "postgresql", "webpack", "sentry", "ansible", "graphql"]
SELECTIVE_RATE = 1 / 4_000
# Zipf ranks 25-35 of the vocabulary: each in about one message in 25.
COMMON_TERMS = ["meeting", "what", "are", "will", "but", "get", "all", "now"]

# Everyday chat words, roughly most frequent first; a long tail of made-up names follows them.
COMMON_TEXT = """
the to i you a and it is for that in we on this be of can do have just at so with not
what are my me will but meeting if it's get all now no yes was ok up about your know
there think one out like go they today need time can't going good thanks here when see how
will we'll let's call check should make sure also back new team work tomorrow would then
could please did an some more still or fix by from done right any look got sounds great
release deploy build test tests branch review merge code issue bug ticket update api server
client page design doc docs notes plan week friday monday morning afternoon lunch coffee
later soon yesterday report numbers customer users data launch demo slides budget invoice
question answer idea problem change version staging production database cache queue error
logs alert dashboard metrics latency spike rollback hotfix config settings feature flag
sprint standup retro board ticket estimate deadline priority blocker sync chat email
phone office remote home travel flight hotel dinner party birthday holiday vacation sick
"""
COMMON_WORDS = list(dict.fromkeys(COMMON_TEXT.split()))
SYLLABLE_TEXT = "ka lo mi ra te zu an el or in po se ti va ne ru shi do be lu fa ko ri na mo"
SYLLABLES = SYLLABLE_TEXT.split()


def progress(message: str) -> None:
    print(f"bench.chat_scale: {message}", file=sys.stderr, flush=True)


# --- The parent: a scratch database around a child process ----------------------------------


def refuse(message: str) -> None:
    print(f"bench.chat_scale: {message}", file=sys.stderr)
    raise SystemExit(2)


def supervise(options: list[str]) -> int:
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if urlsplit(database_url).scheme not in ("postgres", "postgresql"):
        refuse("needs PostgreSQL: set DATABASE_URL to a postgres:// URL.")
    import psycopg

    try:
        psycopg.connect(database_url, connect_timeout=5).close()
    except psycopg.Error as error:
        refuse(f"cannot reach PostgreSQL at {database_url}: {error}")

    # tests.servers needs Django's apps loaded; this process never opens a Django connection.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastsock.settings.test")
    import django

    django.setup()
    from tests.servers import _scratch_postgres_database

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    # SIGTERM unwinds like Ctrl-C does, so that the scratch database is dropped either way.
    signal.signal(signal.SIGTERM, stop)
    with _scratch_postgres_database(database_url) as scratch_url:
        env = {
            **os.environ,
            "DATABASE_URL": scratch_url,
            "DJANGO_SETTINGS_MODULE": "fastsock.settings.test",
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
        }
        arguments = [sys.executable, "-m", "bench.chat_scale", "--child", *options]
        child = subprocess.Popen(arguments, cwd=Path(__file__).resolve().parent.parent, env=env)
        try:
            return child.wait()
        finally:
            # Ctrl-C reaches the child too; anything else (SIGTERM, an error here) stops it here,
            # so that the database can be dropped.
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()


# --- The child: load, measure, report --------------------------------------------------------


class Loader:
    """Generates the data set deterministically and streams it into PostgreSQL with COPY."""

    def __init__(self) -> None:
        self.random = random.Random(SEED)
        tail = self._made_up_words(20_000)
        self.vocabulary = [*COMMON_WORDS, *tail]
        # Zipf: the n-th word is n times rarer than the first.
        weights = [1 / rank for rank in range(1, len(self.vocabulary) + 1)]
        self.cumulative = list(_accumulate(weights))
        self.end = datetime.now(UTC).replace(microsecond=0)
        self.start = self.end - timedelta(days=365)
        self.step = (self.end - self.start) / (MESSAGES + 1)

    def _made_up_words(self, count: int) -> list[str]:
        words: set[str] = set()
        while len(words) < count:
            words.add("".join(self.random.choices(SYLLABLES, k=self.random.randint(2, 4))))
        return sorted(words - set(COMMON_WORDS) - set(SELECTIVE_TERMS))

    def plan(self) -> None:
        """Rooms, members, and which room each message goes to (so last ids are known up front)."""
        rng = self.random
        room_ids = list(range(1, ROOMS + 1))
        # Activity per room is skewed: room 1 (one of the bench user's) is the busiest.
        ranks = [1, *rng.sample(range(2, ROOMS + 1), ROOMS - 1)]
        weights = [1 / rank**0.8 for rank in ranks]
        self.room_of_message = rng.choices(room_ids, weights=weights, k=MESSAGES)

        self.kind = {room: "direct" if room % 7 == 0 else "group" for room in room_ids}
        others = list(range(BENCH_USER_ID + 1, USERS + 1))
        self.members: dict[int, list[int]] = {}
        pairs: set[tuple[int, int]] = set()
        for room in room_ids:
            in_bench = room <= BENCH_ROOMS
            if self.kind[room] == "direct":
                while True:
                    a = BENCH_USER_ID if in_bench else rng.choice(others)
                    b = rng.choice([user for user in rng.sample(others, 2) if user != a])
                    pair = (min(a, b), max(a, b))
                    if pair not in pairs:
                        pairs.add(pair)
                        break
                self.members[room] = list(pair)
            else:
                size = rng.choice([rng.randint(3, 12), rng.randint(10, 60), rng.randint(100, 400)])
                people = rng.sample(others, size)
                self.members[room] = [BENCH_USER_ID, *people] if in_bench else people

        self.last_id: dict[int, int] = {}
        self.bench_ids: dict[int, list[int]] = {room: [] for room in range(1, BENCH_ROOMS + 1)}
        for message_id, room in enumerate(self.room_of_message, start=1):
            self.last_id[room] = message_id
            if room <= BENCH_ROOMS:
                self.bench_ids[room].append(message_id)

    def at(self, message_id: int) -> datetime:
        return self.start + self.step * message_id

    def text(self) -> str:
        rng = self.random
        length = rng.choice((rng.randint(2, 7), rng.randint(5, 14), rng.randint(12, 40)))
        words = rng.choices(self.vocabulary, cum_weights=self.cumulative, k=length)
        for term in SELECTIVE_TERMS:
            if rng.random() < SELECTIVE_RATE:
                words[rng.randrange(length)] = term.capitalize() if rng.random() < 0.3 else term
        words[0] = words[0].capitalize()
        return " ".join(words) + rng.choice(("", "", ".", "?", "!", " :)"))

    def users(self) -> Iterator[tuple[Any, ...]]:
        joined = self.start - timedelta(days=30)
        for user_id in range(1, USERS + 1):
            username = "bench" if user_id == BENCH_USER_ID else f"user{user_id:05d}"
            # "!" is Django's unusable password: nobody logs in, the bench uses JWTs.
            yield (user_id, "!", False, username, "", "", "", False, True, joined, username.title(), "", "")

    def rooms(self) -> Iterator[tuple[Any, ...]]:
        created = self.start - timedelta(days=1)
        for room, members in self.members.items():
            direct = self.kind[room] == "direct"
            last = self.last_id.get(room)
            yield (
                room,
                self.kind[room],
                "" if direct else f"Room {room}",
                "",
                f"{members[0]}:{members[1]}" if direct else None,
                created,
                created,
                self.at(last) if last else created,
                members[0],
                last,
            )

    def memberships(self) -> Iterator[tuple[Any, ...]]:
        membership_id = 0
        joined = self.start - timedelta(days=1)
        for room, members in self.members.items():
            for position, user_id in enumerate(members):
                membership_id += 1
                watermark = self._watermark(room, user_id)
                role = "owner" if position == 0 and self.kind[room] == "group" else "member"
                read_at = self.at(watermark) if watermark else None
                # unread_count is counted by the rule once the messages are in (see load()).
                yield (membership_id, role, "all", joined, watermark, read_at, watermark, read_at, user_id, room, 0)
        self.membership_count = membership_id

    def _watermark(self, room: int, user_id: int) -> int | None:
        rng = self.random
        last = self.last_id.get(room)
        if last is None:
            return None
        if user_id != BENCH_USER_ID:
            return None if rng.random() < 0.1 else last
        ids = self.bench_ids[room]
        roll = rng.random()
        if roll < 0.45:
            behind = 0  # all read
        elif roll < 0.80:
            behind = rng.randint(1, 50)
        elif roll < 0.95:
            behind = rng.randint(50, 1_000)
        elif roll < 0.98:
            behind = rng.randint(1_000, 10_000)
        else:
            return None  # never opened
        return ids[max(0, len(ids) - 1 - behind)]

    def messages(self) -> Iterator[tuple[Any, ...]]:
        rng = self.random
        previous: dict[int, int] = {}
        self.deleted = self.system = 0
        for message_id, room in enumerate(self.room_of_message, start=1):
            members = self.members[room]
            created = self.at(message_id)
            roll = rng.random()
            if roll < 0.003:
                self.system += 1
                sender, kind, content = None, "system", f"{members[0]} added user{rng.choice(members):05d}."
            else:
                sender, kind, content = rng.choice(members), "text", self.text()
            reply_to = previous.get(room) if rng.random() < 0.05 else None
            edited = created + timedelta(minutes=2) if rng.random() < 0.02 else None
            deleted_at = deleted_by = None
            if sender is not None and rng.random() < 0.01:
                self.deleted += 1
                deleted_at, deleted_by, content = created + timedelta(minutes=5), sender, ""
            previous[room] = message_id
            yield (message_id, room, sender, kind, content, created, edited, deleted_at, deleted_by, reply_to)

    def reactions(self) -> Iterator[tuple[Any, ...]]:
        rng = self.random
        reaction_id = 0
        emoji = ["👍", "🎉", "❤️", "😂", "👀", "🚀"]
        for message_id in rng.sample(range(1, MESSAGES + 1), MESSAGES // 20):
            members = self.members[self.room_of_message[message_id - 1]]
            for user_id, mark in zip(
                rng.sample(members, min(len(members), rng.randint(1, 4))), rng.sample(emoji, 4), strict=False
            ):
                reaction_id += 1
                yield (reaction_id, message_id, user_id, mark, self.at(message_id) + timedelta(minutes=1))
        self.reaction_count = reaction_id


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


COPIES: list[tuple[str, str]] = [
    (
        "users",
        "COPY accounts_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,"
        " is_active, date_joined, display_name, avatar, status_message) FROM STDIN",
    ),
    (
        "rooms",
        "COPY chat_room (id, kind, name, avatar, direct_key, created_at, updated_at, last_activity_at,"
        " created_by_id, last_message_id) FROM STDIN",
    ),
    (
        "memberships",
        "COPY chat_membership (id, role, notification_level, joined_at, last_read_message_id, last_read_at,"
        " last_delivered_message_id, last_delivered_at, user_id, room_id, unread_count) FROM STDIN",
    ),
    (
        "messages",
        "COPY chat_message (id, room_id, sender_id, type, content, created_at, edited_at, deleted_at,"
        " deleted_by_id, reply_to_id) FROM STDIN",
    ),
    ("reactions", "COPY chat_reaction (id, message_id, user_id, emoji, created_at) FROM STDIN"),
]


def load(database_url: str) -> tuple[Loader, dict[str, Any]]:
    """Fill the (migrated, empty) scratch database; return the plan with counts and seconds."""
    import psycopg

    started = time.perf_counter()
    loader = Loader()
    loader.plan()
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        # Secondary indexes are built once after the load, which is several times faster than
        # maintaining them (the GIN index above all) row by row. Unique ones stay, as guards.
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indrelid = 'chat_message'::regclass AND NOT i.indisunique"
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        for table, statement in COPIES:
            with cursor.copy(statement) as copy:
                for row in getattr(loader, table)():
                    copy.write_row(row)
        # Check the deferred foreign keys now: an index cannot be built over pending checks.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for _name, definition in indexes:
            cursor.execute(definition)
        # Each member's unread counter, by the unread rule (as the migration that added it does).
        cursor.execute(
            "UPDATE chat_membership mb SET unread_count = ("
            " SELECT count(*) FROM chat_message m WHERE m.room_id = mb.room_id AND m.deleted_at IS NULL"
            " AND m.sender_id IS NOT NULL AND m.sender_id <> mb.user_id"
            " AND m.id > coalesce(mb.last_read_message_id, 0))"
        )
        for table in ("accounts_user", "chat_room", "chat_membership", "chat_message", "chat_reaction"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608 - our names
            )
    loaded = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return loader, {
        "users": USERS,
        "rooms": ROOMS,
        "memberships": loader.membership_count,
        "messages": MESSAGES,
        "system_messages": loader.system,
        "deleted_messages": loader.deleted,
        "reactions": loader.reaction_count,
        "copy_and_index_seconds": round(loaded - started, 1),
        "vacuum_analyze_seconds": round(time.perf_counter() - loaded, 1),
    }


def unread_stats() -> dict[str, int]:
    """What the bench user's room list has to count: unread messages over their 200 rooms."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE unread > 0), coalesce(sum(unread), 0), coalesce(max(unread), 0) FROM ("
            " SELECT (SELECT count(*) FROM chat_message m WHERE m.room_id = mb.room_id AND m.deleted_at IS NULL"
            "   AND m.sender_id IS NOT NULL AND m.sender_id <> mb.user_id"
            "   AND m.id > coalesce(mb.last_read_message_id, 0)) AS unread"
            " FROM chat_membership mb WHERE mb.user_id = %s) per_room",
            [BENCH_USER_ID],
        )
        rooms_with_unread, total, largest = cursor.fetchone()
    return {
        "rooms_with_unread": int(rooms_with_unread),
        "unread_total": int(total),
        "unread_max_in_a_room": int(largest),
    }


def explain_request(client: Any, path: str) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of every SELECT one request runs, as text."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(path)
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            if not query["sql"].lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            plans.append(query["sql"] + "\n" + "\n".join(row[0] for row in cursor.fetchall()))
    return plans


class GcPauses:
    """Python's garbage-collection pauses while measuring: they land in the tail latencies."""

    def __init__(self) -> None:
        self.pauses_ms: list[float] = []
        self._started = 0.0

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses_ms.append((time.perf_counter() - self._started) * 1000)

    def summary(self) -> dict[str, float]:
        return {"count": len(self.pauses_ms), "max_ms": round(max(self.pauses_ms, default=0.0), 2)}


def measure_part(name: str, next_path: Callable[[], str], *, target_ms: float, explain: bool) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from fastsock.core.testing import api_client_for

    # A fresh client per part: access tokens live 15 minutes.
    client = api_client_for(User.objects.get(pk=BENCH_USER_ID))
    for _ in range(WARMUP_REQUESTS):
        client.get(next_path())
    sample_path = next_path()
    with CaptureQueriesContext(connection) as captured:
        client.get(sample_path)
    # Read now: every request starts by clearing the connection's query log.
    queries_per_request = len(captured.captured_queries)
    samples: list[float] = []
    deadline = time.monotonic() + MAX_SECONDS_PER_PART
    started = time.perf_counter()
    with GcPauses() as pauses:
        while len(samples) < REQUESTS_PER_PART and time.monotonic() < deadline:
            path = next_path()
            begin = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - begin) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{name}: GET {path} answered {response.status_code}: {response.content[:500]!r}")
    result: dict[str, Any] = {
        **summary(samples, time.perf_counter() - started),
        "queries_per_request": queries_per_request,
        "gc_pauses": pauses.summary(),
        "target_p99_ms": target_ms,
    }
    result["met"] = result["p99_ms"] < target_ms
    progress(f"{name}: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms ({'met' if result['met'] else 'MISSED'})")
    if explain or not result["met"]:
        print(f"\n===== {name}: GET {sample_path} =====", file=sys.stderr)
        for plan in explain_request(client, sample_path):
            print(plan + "\n", file=sys.stderr)
    return result


def history_points(loader: Loader) -> dict[str, list[tuple[int, int]]]:
    """``before`` cursors for deep history pages: points in the older half of busy rooms."""
    rng = random.Random(SEED + 1)
    busy = [room for room in range(1, BENCH_ROOMS + 1) if len(loader.bench_ids[room]) >= 2_000]
    deep = [(room, rng.choice(loader.bench_ids[room][: len(loader.bench_ids[room]) // 2])) for room in busy]
    busiest = [(1, message_id) for message_id in rng.sample(loader.bench_ids[1][:-1_000], 500)]
    return {"deep": deep, "busiest": busiest}


def measure(points: dict[str, list[tuple[int, int]]], *, explain: bool, gc_freeze: bool) -> dict[str, Any]:
    from urllib.parse import quote

    from accounts.models import User
    from fastsock.core.testing import api_client_for

    rng = random.Random(SEED + 2)
    bench_rooms = list(range(1, BENCH_ROOMS + 1))
    # The second page of each common word: its cursor comes from a first page fetched now.
    client = api_client_for(User.objects.get(pk=BENCH_USER_ID))
    second_pages = {term: client.get("/api/v1/search", {"q": term}).json()["next"] or "" for term in COMMON_TERMS}

    def history(room: int, before: int) -> str:
        return f"/api/v1/history/room/{room}?before={before}"

    def second_page() -> str:
        term = rng.choice(COMMON_TERMS)
        return f"/api/v1/search?q={term}&cursor={quote(second_pages[term])}"

    parts: dict[str, tuple[Callable[[], str], str]] = {
        "history_newest_page": (lambda: f"/api/v1/history/room/{rng.choice(bench_rooms)}", "history"),
        "history_deep_page": (lambda: history(*rng.choice(points["deep"])), "history"),
        "history_deep_page_busiest_room": (lambda: history(*rng.choice(points["busiest"])), "history"),
        "rooms_first_page": (lambda: "/api/v1/rooms", "rooms"),
        "rooms_100": (lambda: "/api/v1/rooms?limit=100", "rooms"),
        "search_selective": (lambda: f"/api/v1/search?q={rng.choice(SELECTIVE_TERMS)}", "search"),
        "search_common": (lambda: f"/api/v1/search?q={rng.choice(COMMON_TERMS)}", "search"),
        "search_common_second_page": (second_page, "search"),
        "search_common_prefix": (lambda: f"/api/v1/search?q={rng.choice(COMMON_TERMS)[:3]}", "search"),
        "search_two_words": (
            lambda: f"/api/v1/search?q={rng.choice(COMMON_TERMS)}+{rng.choice(SELECTIVE_TERMS)[:4]}",
            "search",
        ),
    }
    # Every view once, so that what a first request imports and caches is in place.
    for next_path, _kind in parts.values():
        client.get(next_path())
    if gc_freeze:
        # A long-running server should do the same once warm: otherwise every full collection
        # walks the ~150,000 objects of Django and the app, a 100 ms pause on a small machine.
        gc.collect()
        gc.freeze()
    return {
        name: measure_part(name, next_path, target_ms=TARGETS_MS[kind], explain=explain)
        for name, (next_path, kind) in parts.items()
    }


def child(*, explain: bool, measure_only: bool, gc_freeze: bool) -> None:
    database_url = os.environ["DATABASE_URL"]
    if not urlsplit(database_url).path.lstrip("/").startswith(SCRATCH_PREFIX):
        refuse("the loader writes a million rows: it runs only against a scratch database.")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if measure_only:
        # The data set is deterministic: planning it again finds the same ids.
        loader = Loader()
        loader.plan()
        loaded: dict[str, Any] = {"skipped": True}
    else:
        progress("migrating the scratch database")
        call_command("migrate", verbosity=0, interactive=False)
        progress(f"loading {MESSAGES:,} messages")
        loader, loaded = load(database_url)
        progress(f"loaded: {json.dumps(loaded)}")
    points = history_points(loader)
    del loader
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
    report: dict[str, Any] = {
        "database": f"PostgreSQL {server_version}",
        "cpus": os.cpu_count(),
        "python_gc": "start-up objects frozen (gc.freeze)" if gc_freeze else "default",
        "load": loaded,
        "bench_user": {"rooms": BENCH_ROOMS, **unread_stats()},
        "results": measure(points, explain=explain, gc_freeze=gc_freeze),
    }
    report["targets_met"] = all(part["met"] for part in report["results"].values())
    connection.close()
    print(json.dumps(report, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chat_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of every measured request")
    parser.add_argument("--no-gc-freeze", action="store_true", help="measure with Python's default garbage collection")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(explain=arguments.explain, measure_only=arguments.measure_only, gc_freeze=not arguments.no_gc_freeze)
    else:
        raise SystemExit(supervise(sys.argv[1:]))


if __name__ == "__main__":
    main()
