"""Writing normalised facts, in the transaction that stores the rows they came from.

Each fact is stored under its key: a key already stored (a re-sent record, or a
second record about the same call) merges into the stored fact, keeping every
figure already known and filling in the ones it lacked; facts of one batch that
share a key are merged the same way first.

The rollups must always equal the sum of the facts. New facts, nearly all of
them, are added to the rollups here, summed per batch: a batch of 500 calls of
one session is one rollup update, not 500 (a trigger per fact cost more than
storing the fact). A merge or a move changes a stored fact, and the schema's
UPDATE and DELETE triggers take the old values out and put the new ones in.
Sessions' first/last times and precedence ranks only ever move one way (min,
max), so they are updated per batch too, from every fact, new or not.

A tool call, decision or output figure that names no model is filed under the
model of its session's latest call at or before it (the call that asked for the
tool), so a breakdown by model shows each model's tools and lines rather than a
model-less row. Only calls stored by then count, so one that arrives before every
call of its session stays model-less; reindex replays the same arrival order.
"""

from __future__ import annotations

import bisect
import sqlite3
from typing import Any, Iterable, Iterator

from agentwatch.measures import BUCKET_NS
from agentwatch.records import ACTIVE_KINDS, KIND_CHANNEL, MEASURES, Fact, Kind
from agentwatch.store.series import increases

_DETAIL = ("name", "decision", "decision_source", "success", "duration_ms", "error")
_COLUMNS = ("key", "kind", "session_id", "home_id", "trace_id", "time_ns", "model", "rank", *_DETAIL, *MEASURES)
_FIRST_MEASURE = len(_COLUMNS) - len(MEASURES)
# Fact's detail fields and then its measures, in _COLUMNS order: one slice, not 21 getattrs.
_FACT_DETAIL = slice(Fact._fields.index(_DETAIL[0]), Fact._fields.index(MEASURES[-1]) + 1)
assert Fact._fields[_FACT_DETAIL] == (*_DETAIL, *MEASURES)
# Rows carry a kind's value (its text, as stored).
_ACTIVE = frozenset(k.value for k in ACTIVE_KINDS)
_CHANNEL = {k.value: channel for k, channel in KIND_CHANNEL.items()}


def _max_known(column: str) -> str:
    return (
        f"{column} = CASE WHEN excluded.{column} IS NULL THEN {column} WHEN {column} IS NULL "
        f"THEN excluded.{column} ELSE max({column}, excluded.{column}) END"
    )


_MARKS = ", ".join("?" * len(_COLUMNS))
_INSERT = f"INSERT INTO facts ({', '.join(_COLUMNS)}) VALUES ({_MARKS})"
_MERGE = f"""
    INSERT INTO facts ({', '.join(_COLUMNS)}) VALUES ({_MARKS})
    ON CONFLICT (key) DO UPDATE SET
        session_id = CASE WHEN session_id = home_id THEN excluded.session_id ELSE session_id END,
        model = CASE WHEN model = '' THEN excluded.model ELSE model END,
        rank = min(rank, excluded.rank),
        {", ".join(f"{c} = coalesce({c}, excluded.{c})" for c in _DETAIL)},
        {", ".join(_max_known(m) for m in MEASURES)}
"""


def _add_known(column: str) -> str:
    # NULL is "not reported": adding it keeps what was there.
    return f"{column} = CASE WHEN excluded.{column} IS NULL THEN {column} ELSE coalesce({column}, 0) + excluded.{column} END"


_ROLLUP = f"""
    INSERT INTO rollups (bucket, session_id, model, rank, activity, {", ".join(MEASURES)})
    VALUES (?, ?, ?, ?, ?, {", ".join("?" * len(MEASURES))})
    ON CONFLICT (bucket, session_id, model, rank) DO UPDATE SET
        activity = activity + excluded.activity, {", ".join(_add_known(m) for m in MEASURES)}
"""
_SESSION_ROLLUP = f"""
    INSERT INTO session_rollups (session_id, model, rank, first_bucket, last_bucket, activity, {", ".join(MEASURES)})
    VALUES (?, ?, ?, ?, ?, ?, {", ".join("?" * len(MEASURES))})
    ON CONFLICT (session_id, model, rank) DO UPDATE SET
        first_bucket = min(first_bucket, excluded.first_bucket),
        last_bucket = max(last_bucket, excluded.last_bucket),
        activity = activity + excluded.activity, {", ".join(_add_known(m) for m in MEASURES)}
"""
_TOUCH = """
    UPDATE sessions SET
        first_ns = min(coalesce(first_ns, :first), :first),
        last_ns = max(coalesce(last_ns, :last), :last),
        usage_rank = min(usage_rank, :usage), tools_rank = min(tools_rank, :tools),
        output_rank = min(output_rank, :output)
    WHERE id = :id
"""
_UPSERT_SESSION = (
    "INSERT INTO sessions (agent, scope, sid, labels) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (agent, scope, sid) DO UPDATE SET labels = coalesce(labels, excluded.labels)"
)
_LINK = "INSERT OR IGNORE INTO trace_sessions (trace_id, session_id) VALUES (?, ?)"
# Facts of the trace that arrived before its session was known move to it (the UPDATE
# trigger moves their rollups and touches the session).
_ADOPT = "UPDATE facts SET session_id = ? WHERE trace_id = ? AND session_id = home_id"

_NO_RANK = 99  # the schema's default: no source seen yet


def home_scope(resource_key: bytes) -> str:
    """The session scope of a resource's records that name no session."""
    return resource_key.hex()


def insert_presence(conn: sqlite3.Connection, presence: Iterable[tuple[int, str]]) -> None:
    """Which agents sent anything per 15 minutes, counted or not (a summary lists them)."""
    conn.executemany("INSERT OR IGNORE INTO presence (bucket, agent) VALUES (?, ?)", presence)


def insert_facts(conn: sqlite3.Connection, facts: Iterable[Fact], baseline_before: int | None = None) -> int:
    """Store facts (the caller owns the transaction); returns how many were written.

    baseline_before: see series.increases (reindex after retention pruned rows).
    """
    facts = list(facts)
    if not facts:
        return 0
    ids = _Sessions(conn, facts)
    for link in (f for f in facts if f.kind is Kind.LINK):
        session_id = ids.session(link)
        conn.execute(_LINK, (link.trace_id, session_id))
        conn.execute(_ADOPT, (session_id, link.trace_id))
    ids.load_traces(conn, facts)
    rows = _merged(ids.row(f) for f in increases(conn, facts, baseline_before) if f.kind is not Kind.LINK)
    if not rows:
        return 0
    rows = _with_models(conn, rows)
    stored = _stored_keys(conn, [r[0] for r in rows])
    fresh = [r for r in rows if r[0] not in stored]
    conn.executemany(_INSERT, fresh)
    conn.executemany(_MERGE, [r for r in rows if r[0] in stored])
    _add_to_rollups(conn, fresh)
    # Every row, merged ones too: a later record of a stored call (a tool's result after its
    # decision) still moves its session's last-seen time, which the trigger's stored time would not.
    _touch_sessions(conn, rows)
    return len(rows)


class _Sessions:
    """Session ids for a batch's facts: its sessions upserted once, then looked up here."""

    def __init__(self, conn: sqlite3.Connection, facts: list[Fact]) -> None:
        wanted: dict[tuple[str, str, str], str | None] = {}
        for f in facts:
            wanted.setdefault((f.agent, home_scope(f.resource_key), ""), None)
            if f.session:
                key = (f.agent, f.session_scope, f.session)
                if wanted.get(key) is None:
                    wanted[key] = f.labels
        conn.executemany(_UPSERT_SESSION, [(*key, labels) for key, labels in wanted.items()])
        self.ids: dict[tuple[str, str, str], int] = {
            key: conn.execute("SELECT id FROM sessions WHERE agent = ? AND scope = ? AND sid = ?", key).fetchone()[0]
            for key in wanted
        }
        self.traces: dict[bytes, int] = {}

    def load_traces(self, conn: sqlite3.Connection, facts: list[Fact]) -> None:
        """The sessions of the traces of facts that name none (after this batch's links)."""
        for trace in {f.trace_id for f in facts if f.trace_id and not f.session and f.kind is not Kind.LINK}:
            found = conn.execute("SELECT session_id FROM trace_sessions WHERE trace_id = ?", (trace,)).fetchone()
            if found:
                self.traces[trace] = found[0]

    def home(self, fact: Fact) -> int:
        return self.ids[(fact.agent, home_scope(fact.resource_key), "")]

    def session(self, fact: Fact) -> int:
        if fact.session:
            return self.ids[(fact.agent, fact.session_scope, fact.session)]
        return self.traces.get(fact.trace_id) or self.home(fact)

    def row(self, fact: Fact) -> tuple[Any, ...]:
        head = (fact.key, fact.kind.value, self.session(fact), self.home(fact), fact.trace_id, fact.time_ns,
                fact.model or "", fact.rank)  # fmt: skip
        return head + fact[_FACT_DETAIL]


_INHERITS_MODEL = frozenset({Kind.TOOL.value, Kind.DECISION.value, Kind.OUTPUT.value})
_REQUEST = Kind.REQUEST.value


def _with_models(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Model-less tool, decision and output rows take the model of their session's
    latest call at or before their time: this batch's calls first, else the stored ones."""
    calls: dict[int, list[tuple[int, str]]] = {}  # session id -> this batch's (time, model), sorted
    orphans = []  # indexes of the rows that need a model
    for i, row in enumerate(rows):
        if row[6]:
            if row[1] == _REQUEST and row[2] != row[3]:
                calls.setdefault(row[2], []).append((row[5], row[6]))
        elif row[1] in _INHERITS_MODEL and row[2] != row[3]:
            orphans.append(i)
    if not orphans:
        return rows
    for found in calls.values():
        found.sort()
    out = list(rows)
    for i in orphans:
        row = rows[i]
        model = _call_model_before(conn, calls.get(row[2], []), row[2], row[5])
        if model:
            out[i] = row[:6] + (model,) + row[7:]
    return out


def _call_model_before(conn: sqlite3.Connection, calls: list[tuple[int, str]], session_id: int, time_ns: int) -> str:
    at = bisect.bisect_right(calls, (time_ns, "\U0010ffff"))
    if at:
        return calls[at - 1][1]
    found = conn.execute(
        "SELECT model FROM facts WHERE session_id = ? AND time_ns <= ? AND kind = 'request' AND model != '' "
        "ORDER BY time_ns DESC LIMIT 1",
        (session_id, time_ns),
    ).fetchone()
    return found[0] if found else ""


def _max_of_known(a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None else max(a, b)


def _merged(rows: Iterator[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """One row per key, merged as the ON CONFLICT clause merges into a stored fact."""
    by_key: dict[bytes, tuple[Any, ...]] = {}
    for row in rows:
        first = by_key.get(row[0])
        by_key[row[0]] = row if first is None else _merge_rows(first, row)
    return list(by_key.values())


def _merge_rows(old: tuple[Any, ...], new: tuple[Any, ...]) -> tuple[Any, ...]:
    key, kind, session_id, home_id, trace_id, time_ns, model, rank = old[:8]
    session_id = new[2] if session_id == home_id else session_id
    head = (key, kind, session_id, home_id, trace_id, time_ns, model or new[6], min(rank, new[7]))
    details = tuple(a if a is not None else b for a, b in zip(old[8:_FIRST_MEASURE], new[8:_FIRST_MEASURE]))
    measures = tuple(_max_of_known(a, b) for a, b in zip(old[_FIRST_MEASURE:], new[_FIRST_MEASURE:]))
    return head + details + measures


def _sum_known(values: tuple[Any, ...]) -> Any:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _add_to_rollups(conn: sqlite3.Connection, fresh: list[tuple[Any, ...]]) -> None:
    """Add new facts to the rollups: one upsert per quarter hour and per session life."""
    quarters: dict[tuple[int, int, str, int], list[tuple[Any, ...]]] = {}
    for row in fresh:
        quarters.setdefault((row[5] // BUCKET_NS, row[2], row[6], row[7]), []).append(row)
    lives: dict[tuple[int, str, int], list[Any]] = {}
    quarter_rows = []
    for key, rows in quarters.items():
        activity = sum(1 for r in rows if r[1] in _ACTIVE)
        sums = [_sum_known(column) for column in zip(*(r[_FIRST_MEASURE:] for r in rows))]
        quarter_rows.append((*key, activity, *sums))
        life = lives.setdefault(key[1:], [key[0], key[0], 0, [None] * len(MEASURES)])
        life[0], life[1], life[2] = min(life[0], key[0]), max(life[1], key[0]), life[2] + activity
        life[3] = [_sum_known((a, b)) for a, b in zip(life[3], sums)]
    conn.executemany(_ROLLUP, quarter_rows)
    conn.executemany(_SESSION_ROLLUP, [(*key, first, last, act, *sums) for key, (first, last, act, sums) in lives.items()])


def _touch_sessions(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """First/last seen and the best rank per channel, for every session the facts name."""
    spans: dict[tuple[int, int, str], list[int]] = {}  # (session, home, channel) -> [first, last, rank]
    for row in rows:
        key = (row[2], row[3], _CHANNEL[row[1]])
        seen = spans.get(key)
        if seen is None:
            spans[key] = [row[5], row[5], row[7]]
        else:
            seen[0], seen[1], seen[2] = min(seen[0], row[5]), max(seen[1], row[5]), min(seen[2], row[7])
    touched: dict[int, dict[str, int]] = {}
    for (session_id, home_id, channel), (first, last, rank) in spans.items():
        for sid in {session_id, home_id}:
            t = touched.setdefault(sid, {"id": sid, "first": first, "last": last, "usage": _NO_RANK,
                                         "tools": _NO_RANK, "output": _NO_RANK})  # fmt: skip
            t["first"], t["last"] = min(t["first"], first), max(t["last"], last)
            t[channel] = min(t[channel], rank)
    conn.executemany(_TOUCH, touched.values())


def _stored_keys(conn: sqlite3.Connection, keys: list[bytes]) -> set[bytes]:
    found: set[bytes] = set()
    for start in range(0, len(keys), 500):  # well under SQLite's bound-parameter limit
        chunk = keys[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        found.update(k for (k,) in conn.execute(f"SELECT key FROM facts WHERE key IN ({marks})", chunk))
    return found
