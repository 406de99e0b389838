"""The newest model calls and tool calls, page by page from a cursor, for a live view.

Read from `facts` (the per-call detail, kept as long as their raw rows: see
store/retention.py), with the agent and session id from `sessions`. Where an
agent describes one call twice from different sources (Claude's `api_request`
event and its beta span; Codex's events and its per-tool counters), a call is
shown only from the source its session's figures are counted from (the same
precedence rank `summary` uses), so the feed and the figures never disagree.

The cursor is the fact id, the order facts were stored in, not their time: an
exporter sends its batch seconds (metrics: a minute) after the records' own
times, so a later page can hold calls older than the newest already shown; a
cursor on time would skip them, one on the id never does, and it is the
primary key, so a page is an index seek however many facts are kept. A fact
completed by a later record of the same call (a tool's result after its
decision) keeps its id: a live view that wants the completed row reads the
session's timeline again.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from agentwatch.query.figures import is_counted

PAGE = 200

# Calls, tool calls and decisions; not usage or output figures (metric increases).
SHOWN_KINDS = "('request', 'tool', 'decision')"


@dataclass(frozen=True, slots=True)
class Activity:
    """One model call ("request") or tool call ("tool"; "decision": a decision reported apart)."""

    id: int  # the fact's id: its place in the order of storing
    time_ns: int
    kind: str
    agent: str
    session: str  # the agent's session id; "" when its records named none
    session_key: int  # the store's session, for query.timeline
    model: str | None
    name: str | None  # the tool's name
    count: int | None  # calls this row stands for: 1, or a metric point's increase
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    cost_usd: float | None  # notional, as the agent reported it
    duration_ms: float | None
    decision: str | None  # accept / reject as the agent worded it
    success: bool | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a feed stopped: the next page starts after this fact."""

    after_id: int


@dataclass(frozen=True, slots=True)
class Feed:
    items: tuple[Activity, ...]  # by time, then id
    cursor: Cursor  # pass it to the next call
    more: bool  # more than one page was waiting: call again at once


# A fact shows if it is from the source its session counts the fact's family from:
# the rank rule of figures.ranked_sums, for calls, tool calls and decisions made apart from a call.
_COUNTED = (
    f"CASE f.kind WHEN 'request' THEN {is_counted('requests', 'f')} "
    f"WHEN 'tool' THEN {is_counted('tool_calls', 'f')} ELSE {is_counted('tool_accepted', 'f')} END"
)

COLUMNS = f"""
    f.id, f.time_ns, f.kind, s.agent, s.sid, f.session_id, nullif(f.model, ''), f.name,
    CASE f.kind WHEN 'request' THEN f.requests ELSE f.tool_calls END,
    f.input_tokens, f.output_tokens, f.cache_read_tokens, f.cache_write_tokens, f.reasoning_tokens,
    f.cost_usd, f.duration_ms, f.decision, f.success, f.error
    FROM facts f JOIN sessions s ON s.id = f.session_id
    WHERE f.kind IN {SHOWN_KINDS} AND {_COUNTED}"""


def activity(row: tuple[Any, ...]) -> Activity:
    *head, success, error = row
    return Activity(*head, None if success is None else bool(success), error)


def _by_time(items: list[Activity]) -> tuple[Activity, ...]:
    return tuple(sorted(items, key=lambda a: (a.time_ns, a.id)))


def _newest_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM facts").fetchone()[0])


def feed(conn: sqlite3.Connection, after: Cursor | None = None, limit: int = PAGE) -> Feed:
    """Calls stored after the cursor, oldest first, at most `limit`; without a cursor the newest.

    A cursor past the newest fact means the facts were derived again (`agentwatch
    reindex` numbers them anew): the feed starts over from the newest.
    """
    newest = _newest_id(conn)
    if after is None or after.after_id > newest:
        rows = conn.execute(f"SELECT {COLUMNS} ORDER BY f.id DESC LIMIT ?", (limit,)).fetchall()
        return Feed(_by_time([activity(r) for r in rows]), Cursor(newest), more=False)
    sql = f"SELECT {COLUMNS} AND f.id > ? ORDER BY f.id LIMIT ?"
    rows = conn.execute(sql, (after.after_id, limit + 1)).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    # Without more waiting, every fact up to the newest was looked at (in this snapshot).
    last = rows[-1][0] if more else newest
    return Feed(_by_time([activity(r) for r in rows]), Cursor(last), more)
