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

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from .models import UserEvent, UserStream
from .realtime import publish_many, user_group

POKE_TYPE = "stream.event"
READ_BATCH = 500


Entry = tuple[int, str, dict[str, Any]]
# (user id, position among that user's entries in this append from 1, event, data, data as JSON)
Prepared = tuple[int, int, str, dict[str, Any], str]


def stream_append_many(entries: list[Entry]) -> list[tuple[int, int]]:
    """Append ``(user_id, event, data)`` entries (several per user allowed, kept in order).

    Must run inside the transaction that made the change, so an event exists exactly when the
    change does; sockets are poked after commit, one poke per user carrying all of that user's
    new events. Returns ``(user_id, seq)`` per entry.

    Seqs are reserved by upserting the users' stream rows, which locks them (in user id order,
    so concurrent writers cannot deadlock) until commit: a user's seqs commit in order.
    """
    if not entries:
        return []
    if not connection.in_atomic_block:
        with transaction.atomic():
            return stream_append_many(entries)
    counts: dict[int, int] = {}
    # Each distinct payload is encoded once, for storage and for every socket's frame alike.
    encoded: dict[int, str] = {}
    prepared: list[Prepared] = []
    for user_id, event, data in entries:
        counts[user_id] = counts.get(user_id, 0) + 1
        if id(data) not in encoded:
            encoded[id(data)] = encode_data(data)
        prepared.append((user_id, counts[user_id], event, data, encoded[id(data)]))
    if connection.vendor == "postgresql":
        last = _store_postgresql(prepared, counts)
    else:
        last = _store_portable(prepared, counts)

    by_user: dict[int, list[dict[str, Any]]] = {}
    appended: list[tuple[int, int]] = []
    for user_id, position, event, _data, data_json in prepared:
        seq = last[user_id] - counts[user_id] + position
        by_user.setdefault(user_id, []).append({"seq": seq, "event": event, "data_json": data_json})
        appended.append((user_id, seq))

    def poke() -> None:
        publish_many(
            [(user_group(user_id), {"type": POKE_TYPE, "events": events}) for user_id, events in by_user.items()]
        )

    transaction.on_commit(poke, robust=True)
    return appended


def encode_data(data: dict[str, Any]) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"))


def _store_postgresql(prepared: list[Prepared], counts: dict[int, int]) -> dict[int, int]:
    """Reserve the seqs and store the events in one statement; return each user's last seq.

    The rows and the distinct payloads travel as two JSON documents, and PostgreSQL copies a
    payload into each row that uses it: a message's ``message.new`` is the same for every
    member, and encoding (or array-quoting) it once per recipient in Python was a large part
    of a send's cost in big rooms. One statement rather than two also spares a round trip
    while the stream rows are locked.
    """
    ordered = sorted(counts)
    payloads: list[str] = []
    index_of: dict[str, int] = {}
    rows: list[tuple[int, int, str, int]] = []
    for user_id, position, event, _data, data_json in prepared:
        if data_json not in index_of:
            index_of[data_json] = len(payloads)
            payloads.append(data_json)
        rows.append((user_id, counts[user_id] - position, event, index_of[data_json]))
    streams, events = UserStream._meta.db_table, UserEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH reserved AS ("  # noqa: S608 - our own table names
            f" INSERT INTO {streams} (user_id, last_seq, purged_through)"
            "  SELECT (c->>0)::bigint, (c->>1)::bigint, 0 FROM jsonb_array_elements(%s::jsonb) AS c"
            "  ORDER BY (c->>0)::bigint"
            f" ON CONFLICT (user_id) DO UPDATE SET last_seq = {streams}.last_seq + EXCLUDED.last_seq"
            "  RETURNING user_id, last_seq"
            f") INSERT INTO {events} (user_id, seq, event, data, created_at)"
            " SELECT r.user_id, r.last_seq - (e->>1)::bigint, e->>2, p.list->((e->>3)::int), %s"
            " FROM jsonb_array_elements(%s::jsonb) AS e"
            " JOIN reserved AS r ON r.user_id = (e->>0)::bigint"
            " CROSS JOIN (SELECT %s::jsonb AS list) AS p"
            " RETURNING user_id, seq",
            [
                json.dumps([[user_id, counts[user_id]] for user_id in ordered]),
                timezone.now(),
                json.dumps(rows),
                "[" + ",".join(payloads) + "]",
            ],
        )
        last: dict[int, int] = {}
        for user_id, seq in cursor.fetchall():
            last[user_id] = max(seq, last.get(user_id, 0))
    return last


def _store_portable(prepared: list[Prepared], counts: dict[int, int]) -> dict[int, int]:
    """The same for SQLite (the embedded default): a statement per user, then one insert."""
    last: dict[int, int] = {}
    with connection.cursor() as cursor:
        for user_id in sorted(counts):
            cursor.execute(
                "INSERT INTO core_userstream (user_id, last_seq, purged_through) VALUES (%s, %s, 0) "
                "ON CONFLICT (user_id) DO UPDATE SET last_seq = core_userstream.last_seq + %s "
                "RETURNING last_seq",
                [user_id, counts[user_id], counts[user_id]],
            )
            last[user_id] = cursor.fetchone()[0]
    now = timezone.now()
    UserEvent.objects.bulk_create(
        UserEvent(
            user_id=user_id, seq=last[user_id] - counts[user_id] + position, event=event, data=data, created_at=now
        )
        for user_id, position, event, data, _json in prepared
    )
    return last


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
