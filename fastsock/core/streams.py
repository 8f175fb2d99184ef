"""Durable per-user event streams: the truth behind WebSocket delivery and resume.

Each user has a stream of events numbered 1, 2, 3 … (``seq``). Appending takes the user's
stream row lock for the rest of the transaction, so seqs of one user commit in order: a
reader that has seen ``seq`` N can never later find an N-1 committed behind its back. The
channel layer only carries a "something new" poke (with the user's new events, to spare a read
in the common case); a socket that sees a gap reads the missing events from the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import psycopg
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from .models import UserEvent, UserStream
from .realtime import publish_many, user_group

POKE_TYPE = "stream.event"
READ_BATCH = 500


def binding_cursor() -> Any:
    """A psycopg cursor on Django's connection (so inside its transaction) that sends the
    parameters apart from the statement.

    Django's cursors bind on the client, quoting every element of an array parameter in
    Python; for a send to a room of 20 that quoting was a good part of the send's cost.
    """
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _allocate_seqs(counts: dict[int, int]) -> dict[int, int]:
    """Reserve ``counts[user]`` seqs in each user's stream; return the last one reserved per user.

    Locks the users' stream rows in id order, so that concurrent writers cannot deadlock.
    """
    last: dict[int, int] = {}
    ordered = sorted(counts)
    if connection.vendor == "postgresql":
        # One statement for every recipient; rows are upserted (and locked) in user id order.
        with binding_cursor() as cursor:
            cursor.execute(
                "INSERT INTO core_userstream (user_id, last_seq, purged_through) "
                "SELECT u, c, 0 FROM unnest(%s::bigint[], %s::bigint[]) AS t(u, c) ORDER BY u "
                "ON CONFLICT (user_id) DO UPDATE SET last_seq = core_userstream.last_seq + EXCLUDED.last_seq "
                "RETURNING user_id, last_seq",
                [ordered, [counts[user_id] for user_id in ordered]],
            )
            return dict(cursor.fetchall())
    with connection.cursor() as cursor:
        for user_id in ordered:
            cursor.execute(
                "INSERT INTO core_userstream (user_id, last_seq, purged_through) VALUES (%s, %s, 0) "
                "ON CONFLICT (user_id) DO UPDATE SET last_seq = core_userstream.last_seq + %s "
                "RETURNING last_seq",
                [user_id, counts[user_id], counts[user_id]],
            )
            last[user_id] = cursor.fetchone()[0]
    return last


Entry = tuple[int, str, dict[str, Any]]
# (user id, seq, event, data, data encoded as JSON)
Numbered = tuple[int, int, str, dict[str, Any], str]


def stream_append_many(entries: list[Entry]) -> list[tuple[int, int]]:
    """Append ``(user_id, event, data)`` entries (several per user allowed, kept in order).

    Must run inside the transaction that made the change, so an event exists exactly when the
    change does; sockets are poked after commit, one poke per user carrying all of that user's
    new events. Returns ``(user_id, seq)`` per entry.
    """
    if not entries:
        return []
    if not connection.in_atomic_block:
        with transaction.atomic():
            return stream_append_many(entries)
    counts: dict[int, int] = {}
    for user_id, _event, _data in entries:
        counts[user_id] = counts.get(user_id, 0) + 1
    last = _allocate_seqs(counts)
    next_seq = {user_id: last[user_id] - counts[user_id] + 1 for user_id in counts}
    # Each distinct payload is encoded once, for storage and for every socket's frame alike.
    encoded: dict[int, str] = {}
    numbered: list[Numbered] = []
    for user_id, event, data in entries:
        if id(data) not in encoded:
            encoded[id(data)] = encode_data(data)
        numbered.append((user_id, next_seq[user_id], event, data, encoded[id(data)]))
        next_seq[user_id] += 1
    _insert_events(numbered)

    by_user: dict[int, list[dict[str, Any]]] = {}
    for user_id, seq, event, _data, data_json in numbered:
        by_user.setdefault(user_id, []).append({"seq": seq, "event": event, "data_json": data_json})

    def poke() -> None:
        publish_many(
            [(user_group(user_id), {"type": POKE_TYPE, "events": events}) for user_id, events in by_user.items()]
        )

    transaction.on_commit(poke, robust=True)
    return [(user_id, seq) for user_id, seq, *_rest in numbered]


def encode_data(data: dict[str, Any]) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"))


def _insert_events(numbered: list[Numbered]) -> None:
    """Store the numbered events; on PostgreSQL in one statement, each distinct payload once.

    A message's ``message.new`` goes to every member with the same data: the statement gets
    the rows and the distinct payloads as two JSON documents, and PostgreSQL copies the
    payload into each row. (Encoding, or array-quoting, it once per recipient in Python was a
    large part of a send's cost in big rooms.)
    """
    now = timezone.now()
    if connection.vendor != "postgresql":
        UserEvent.objects.bulk_create(
            UserEvent(user_id=user_id, seq=seq, event=event, data=data, created_at=now)
            for user_id, seq, event, data, _json in numbered
        )
        return
    payloads: list[str] = []
    index_of: dict[str, int] = {}
    rows: list[tuple[int, int, str, int]] = []
    for user_id, seq, event, _data, data_json in numbered:
        if data_json not in index_of:
            index_of[data_json] = len(payloads)
            payloads.append(data_json)
        rows.append((user_id, seq, event, index_of[data_json]))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {UserEvent._meta.db_table} (user_id, seq, event, data, created_at) "  # noqa: S608
            "SELECT (r->>0)::bigint, (r->>1)::bigint, r->>2, p.list->((r->>3)::int), %s "
            "FROM jsonb_array_elements(%s::jsonb) AS r, (SELECT %s::jsonb AS list) AS p",
            [now, json.dumps(rows), "[" + ",".join(payloads) + "]"],
        )


def stream_append(*, user_ids: Iterable[int], event: str, data: dict[str, Any]) -> dict[int, int]:
    """Append one event to each user's stream; returns the seq given to each user."""
    return dict(stream_append_many([(user_id, event, data) for user_id in sorted(set(user_ids))]))


def stream_position(*, user_id: int) -> tuple[int, int]:
    """``(last_seq, purged_through)`` of the user's stream (0, 0 for a user with no events yet)."""
    row = UserStream.objects.filter(user_id=user_id).values_list("last_seq", "purged_through").first()
    return row if row is not None else (0, 0)


def stream_read(*, user_id: int, after_seq: int, limit: int = READ_BATCH) -> list[UserEvent]:
    return list(UserEvent.objects.filter(user_id=user_id, seq__gt=after_seq).order_by("seq")[:limit])


def stream_purge(*, older_than: timedelta | None = None) -> int:
    """Drop events past the retention (``STREAM_RETENTION_HOURS``, at least 24 h); return how many."""
    keep = older_than or timedelta(hours=max(24, settings.STREAM_RETENTION_HOURS))
    cutoff = timezone.now() - keep
    purged = 0
    with transaction.atomic():
        old = UserEvent.objects.filter(created_at__lt=cutoff)
        for user_id, max_seq in _max_seq_per_user(old):
            UserStream.objects.filter(user_id=user_id, purged_through__lt=max_seq).update(purged_through=max_seq)
        purged, _ = old.delete()
    return purged


def _max_seq_per_user(events: Any) -> list[tuple[int, int]]:
    from django.db.models import Max

    return list(events.values("user_id").annotate(top=Max("seq")).values_list("user_id", "top"))
