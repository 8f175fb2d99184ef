"""Message search over the rooms the caller belongs to.

On PostgreSQL it reads the hidden generated column ``chat_message.search_vector``
(``to_tsvector('simple', content)``, GIN index ``chat_message_search``; see migration 0002).
The column is not a model field, so the SQL that touches it is written out here and nowhere
else. Elsewhere (the embedded SQLite default) every word must appear as a case-insensitive
substring, newest first.

Who may see what is decided as everywhere else: a room named by the caller goes through
:func:`chat.selectors.membership_for` (404 for a room that is missing or not theirs); without
a room, only rooms the caller is a member of are searched. Deleted messages are never found,
and neither are system messages ("Alice added Bob"), which are announcements, not content.

How the PostgreSQL query stays fast (measured with ``python -m bench.chat_scale``: a million
messages, a user in 200 rooms):

- The caller's room ids are read first and passed as a constant array, not as a membership
  subquery. With the real number of rooms in hand the planner picks well for every kind of
  word: the GIN index alone for rare words, GIN ANDed with the room index for middling ones,
  and a walk down the newest messages for common ones. A subquery is planned as a semi-join
  or as "about ten rooms", which costs 100-200 ms for middling and common words.
- Only the newest ``RANKED_WINDOW`` matches are ranked. Ranking needs every candidate's
  tsvector from the table, so ranking all 50,000 messages that contain "what" cannot be quick;
  ranking the newest thousand is, and a query that matches more than that is better narrowed
  with another word or a room than paged through.
- ``ts_headline`` runs for the returned page only.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import QuerySet, TextField
from django.db.models.expressions import RawSQL

from accounts.models import User
from fastsock.core.errors import ApiError, ErrorCode, invalid_field

from .models import Membership, Message
from .selectors import membership_for

MAX_QUERY_LENGTH = 200
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# PostgreSQL ranks the newest this many matches (see the module's docstring).
RANKED_WINDOW = 1_000
# Messages up to this many characters come back whole in the highlight.
WHOLE_MESSAGE_CHARACTERS = 280
SNIPPET_CHARACTERS = 240

# The SQL that reads the hidden column. Constant text: the user's words reach it only as bound
# parameters, which is why the raw SQL below is marked safe.
_RANKED_SQL = """
SELECT id, rank FROM (
    SELECT id, ts_rank(search_vector, to_tsquery('simple', %(query)s))::double precision AS rank
    FROM (
        SELECT id, search_vector FROM chat_message
        WHERE room_id = ANY(%(rooms)s::bigint[])
          AND deleted_at IS NULL
          AND type <> %(system)s
          AND search_vector @@ to_tsquery('simple', %(query)s)
        ORDER BY id DESC
        LIMIT %(window)s
    ) AS newest_matches
) AS ranked
WHERE rank < %(after_rank)s OR (rank = %(after_rank)s AND id < %(after_id)s)
ORDER BY rank DESC, id DESC
LIMIT %(limit)s
"""
# Content with &, < and > escaped before ts_headline sees it: the text-search parser would
# otherwise take "<b>" (or "a<b && c>d") for markup and drop it from the snippet.
_ESCAPED_CONTENT = "replace(replace(replace(chat_message.content, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"
# Short messages whole with every match marked; long ones as fragments around the matches.
_HEADLINE_SQL = (
    "CASE WHEN length(chat_message.content) <= %s"
    f" THEN ts_headline('simple', {_ESCAPED_CONTENT}, to_tsquery('simple', %s), %s)"
    f" ELSE ts_headline('simple', {_ESCAPED_CONTENT}, to_tsquery('simple', %s), %s) END"
)


@dataclass(frozen=True)
class SearchHit:
    message: Message
    # HTML: the matching text escaped, each match inside <mark>…</mark>.
    highlight: str
    # ts_rank on PostgreSQL (higher is better); None on the substring fallback.
    rank: float | None


@dataclass(frozen=True)
class SearchPage:
    results: list[SearchHit]
    # Pass back as ``cursor`` for the next page; None on the last page.
    next: str | None


def message_search(
    *,
    user: User,
    query: str,
    room_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> SearchPage:
    """Live, non-system messages in the caller's rooms (or one of them) that contain every word.

    Words are whitespace-separated; every one must match and the last also matches as a
    prefix ("hel" finds "hello"), as people type. On PostgreSQL results come best first
    (``ts_rank``, then newest); on the fallback newest first.

    Pagination is keyset, not offset: the cursor is base64 JSON holding the last hit's
    ``[rank, id]`` (``[id]`` on the fallback), and the next page continues strictly after that
    position in ``(rank DESC, id DESC)`` order. Later pages cost the same as the first, and a
    message arriving meanwhile cannot shift later pages into duplicates. On PostgreSQL the
    pages end with the newest ``RANKED_WINDOW`` matches. The cursor is opaque to clients; one
    this module did not produce is a 400.

    Raises ``ApiError``: 400 ``invalid`` for an unusable query, limit or cursor (details name
    the field), 401 for an anonymous caller, 404 for a room that is missing or not theirs.
    """
    if not getattr(user, "is_authenticated", False):
        raise ApiError(ErrorCode.NOT_AUTHENTICATED, "Authentication is required.")
    words = search_words(query)
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid_field("limit", f"Between 1 and {MAX_LIMIT}.")
    ranked = connection.vendor == "postgresql"
    after = _decode_cursor(cursor, ranked=ranked)
    if room_id is not None:
        room_ids = [membership_for(room_id=room_id, user=user).room_id]
    else:
        room_ids = list(Membership.objects.filter(user=user).values_list("room_id", flat=True))
    if not room_ids:
        return SearchPage([], None)
    if ranked:
        return _ranked_page(room_ids=room_ids, words=words, limit=limit, after=after)
    return _substring_page(room_ids=room_ids, words=words, limit=limit, after=after)


def search_words(query: Any) -> list[str]:
    """The distinct words of a query (anything without a letter or digit dropped), or 400."""
    if not isinstance(query, str) or not query.strip():
        raise invalid_field("q", "Type something to search for.")
    if len(query) > MAX_QUERY_LENGTH:
        raise invalid_field("q", f"At most {MAX_QUERY_LENGTH} characters.")
    if "\x00" in query:
        raise invalid_field("q", "Null characters are not allowed.")
    words: list[str] = []
    seen: set[str] = set()
    for word in query.split():
        if any(character.isalnum() for character in word) and word.casefold() not in seen:
            seen.add(word.casefold())
            words.append(word)
    if not words:
        raise invalid_field("q", "Search for at least one letter or digit.")
    return words


def _with_related(rows: QuerySet[Message]) -> QuerySet[Message]:
    # The same relations message_payload reads, so a page costs one query however long.
    return rows.select_related("sender", "attachment", "reply_to", "reply_to__sender")


# --- PostgreSQL: full-text search ------------------------------------------------------------


def tsquery_text(words: list[str]) -> str:
    """A ``to_tsquery`` input that ANDs the words, the last one as a prefix.

    Each word is a quoted operand, so operators typed by the user (``& | ! <-> ( ) :*``) are
    plain characters that PostgreSQL's parser splits away exactly as it did when it indexed the
    content ("foo-bar" or "example.com" match as they were written). Inside quotes only the
    quote and the backslash are special; both are escaped. The text is passed as a bound
    parameter, never spliced into SQL.
    """
    operands = ["'" + word.replace("\\", "\\\\").replace("'", "''") + "'" for word in words]
    operands[-1] += ":*"
    return " & ".join(operands)


def _ranked_page(*, room_ids: list[int], words: list[str], limit: int, after: tuple[float, int] | None) -> SearchPage:
    tsquery = tsquery_text(words)
    after_rank, after_id = after if after is not None else (math.inf, 0)
    # double precision ranks, so that one read back from a cursor compares exactly.
    with connection.cursor() as cursor:
        cursor.execute(
            _RANKED_SQL,
            {
                "query": tsquery,
                "rooms": room_ids,
                "system": Message.Type.SYSTEM.value,
                "window": RANKED_WINDOW,
                "after_rank": after_rank,
                "after_id": after_id,
                "limit": limit + 1,
            },
        )
        found: list[tuple[int, float]] = cursor.fetchall()
    page = found[:limit]
    if not page:
        return SearchPage([], None)

    start, stop = f"hls{secrets.token_hex(8)}", f"hle{secrets.token_hex(8)}"
    markers = f"StartSel={start}, StopSel={stop}"
    whole = f"{markers}, HighlightAll=true"
    fragments = f'{markers}, MaxFragments=2, MaxWords=24, MinWords=8, FragmentDelimiter=" … "'
    # ts_headline re-parses the text, so it runs for this page only, never for every match.
    headline = RawSQL(  # noqa: S611 - constant SQL
        _HEADLINE_SQL, [WHOLE_MESSAGE_CHARACTERS, tsquery, whole, tsquery, fragments], output_field=TextField()
    )
    ids = [message_id for message_id, _ in page]
    rows = _with_related(Message.objects.filter(pk__in=ids, deleted_at__isnull=True)).annotate(headline=headline)
    messages = {m.pk: m for m in rows}
    # A message deleted since the first query is left out rather than shown as a tombstone.
    results = [
        SearchHit(messages[message_id], _marked_html(messages[message_id].headline, start, stop), message_rank)
        for message_id, message_rank in page
        if message_id in messages
    ]
    last_id, last_rank = page[-1]
    return SearchPage(results, _encode_cursor([last_rank, last_id]) if len(found) > limit else None)


def _marked_html(headline: str, start: str, stop: str) -> str:
    """ts_headline output (escaped text with markers) as escaped HTML with <mark> elements.

    Each piece is unescaped and escaped again, so the result is safe HTML whatever the
    headline contains; the markers are random per request, so no message can forge one.
    """
    pieces = re.split(f"({re.escape(start)}|{re.escape(stop)})", headline)
    out: list[str] = []
    depth = 0
    for piece in pieces:
        if piece == start:
            if depth == 0:
                out.append("<mark>")
            depth += 1
        elif piece == stop:
            if depth == 1:
                out.append("</mark>")
            depth = max(0, depth - 1)
        else:
            out.append(html.escape(html.unescape(piece)))
    if depth:
        out.append("</mark>")
    return "".join(out).strip()


# --- Fallback: substring match ---------------------------------------------------------------


def _substring_page(
    *, room_ids: list[int], words: list[str], limit: int, after: tuple[float, int] | None
) -> SearchPage:
    rows = Message.objects.filter(room_id__in=room_ids, deleted_at__isnull=True).exclude(type=Message.Type.SYSTEM)
    for word in words:
        rows = rows.filter(content__icontains=word)
    if after is not None:
        rows = rows.filter(id__lt=after[1])
    found = list(_with_related(rows).order_by("-id")[: limit + 1])
    page = found[:limit]
    results = [SearchHit(m, substring_highlight(m.content, words), None) for m in page]
    return SearchPage(results, _encode_cursor([page[-1].pk]) if len(found) > limit else None)


def substring_highlight(content: str, words: list[str]) -> str:
    """Escaped HTML of the content (a window around the first match if long), matches marked."""
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.IGNORECASE)
    begin, end = 0, len(content)
    if len(content) > SNIPPET_CHARACTERS:
        first = pattern.search(content)
        begin = max(0, (first.start() if first else 0) - SNIPPET_CHARACTERS // 4)
        end = min(len(content), begin + SNIPPET_CHARACTERS)
    text = content[begin:end]
    out: list[str] = ["…"] if begin > 0 else []
    position = 0
    for match in pattern.finditer(text):
        out.append(html.escape(text[position : match.start()]))
        out.append(f"<mark>{html.escape(match.group())}</mark>")
        position = match.end()
    out.append(html.escape(text[position:]))
    if end < len(content):
        out.append("…")
    return "".join(out)


# --- Cursors ---------------------------------------------------------------------------------


def _encode_cursor(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, *, ranked: bool) -> tuple[float, int] | None:
    """``(rank, id)`` from a cursor this module made (rank 0.0 on the fallback), or 400."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if ranked:
            rank, message_id = position
            if isinstance(rank, bool) or not isinstance(rank, int | float) or not math.isfinite(rank):
                raise ValueError
        else:
            rank, (message_id,) = 0.0, position
        if isinstance(message_id, bool) or not isinstance(message_id, int) or message_id < 1:
            raise ValueError
        return float(rank), message_id
    except (ValueError, TypeError, UnicodeDecodeError):
        raise invalid_field("cursor", "Not a cursor this API gave out.") from None
