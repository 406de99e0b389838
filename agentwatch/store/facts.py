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
model of its session's nearest call: the latest at or before it (the call that
asked for the tool), else the first after it. A breakdown by model then shows each
model's tools and lines rather than a model-less row, which only a session with no
call at all has. Such a fact is marked `inherited`: when a call arrives later than
the facts it is nearest to, they are filed anew, so arrival order does not matter.
"""

from __future__ import annotations

import bisect
import functools
import sqlite3
from collections.abc import Sequence
from typing import Any, Iterable, Iterator

from agentwatch.measures import BUCKET_NS, FAMILIES, FAMILY_OF, rank_column
from agentwatch.records import ACTIVE_KINDS, MEASURES, Fact, Kind
from agentwatch.store.series import increases

_DETAIL = ("name", "decision", "decision_source", "success", "duration_ms", "error")
_HEAD = ("key", "kind", "session_id", "home_id", "trace_id", "time_ns", "model", "rank", "inherited")
_COLUMNS = (*_HEAD, *_DETAIL, *MEASURES)
_MODEL, _INHERITED = _HEAD.index("model"), _HEAD.index("inherited")
_FIRST_MEASURE = len(_COLUMNS) - len(MEASURES)
# Fact's detail fields and then its measures, in _COLUMNS order: one slice, not 21 getattrs.
_FACT_DETAIL = slice(Fact._fields.index(_DETAIL[0]), Fact._fields.index(MEASURES[-1]) + 1)
assert Fact._fields[_FACT_DETAIL] == (*_DETAIL, *MEASURES)
# Rows carry a kind's value (its text, as stored).
_ACTIVE = frozenset(k.value for k in ACTIVE_KINDS)


def _max_known(column: str) -> str:
    return (
        f"{column} = CASE WHEN excluded.{column} IS NULL THEN {column} WHEN {column} IS NULL "
        f"THEN excluded.{column} ELSE max({column}, excluded.{column}) END"
    )


_MARKS = ", ".join("?" * len(_COLUMNS))
# A record naming its model wins over one filed under its call's; an empty model takes any.
_TAKES_MODEL = (
    "{set} = CASE WHEN excluded.model != '' AND (model = '' OR (inherited AND NOT excluded.inherited)) "
    "THEN excluded.{set} ELSE {set} END"
)
_INSERT = f"INSERT INTO facts ({', '.join(_COLUMNS)}) VALUES ({_MARKS})"
_MERGE = f"""
    INSERT INTO facts ({', '.join(_COLUMNS)}) VALUES ({_MARKS})
    ON CONFLICT (key) DO UPDATE SET
        session_id = CASE WHEN session_id = home_id THEN excluded.session_id ELSE session_id END,
        {_TAKES_MODEL.format(set="model")}, {_TAKES_MODEL.format(set="inherited")},
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
_TOUCH = f"""
    UPDATE sessions SET
        first_ns = min(coalesce(first_ns, :first), :first),
        last_ns = max(coalesce(last_ns, :last), :last),
        {", ".join(f"{rank_column(f)} = min({rank_column(f)}, :{f})" for f in FAMILIES)}
    WHERE id = :id
"""
_UPSERT_SESSION = (
    "INSERT INTO sessions (agent, scope, sid, labels) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (agent, scope, sid) DO UPDATE SET labels = coalesce(labels, excluded.labels)"
)
_LINK = "INSERT OR IGNORE INTO trace_sessions (trace_id, session_id) VALUES (?, ?)"
# Facts of the trace that arrived before its session was known move to it (the UPDATE
# trigger moves their rollups and touches the session).
# A model-less tool among them is then filed under the session's nearest call.
_ADOPT = (
    "UPDATE facts SET session_id = ?, inherited = inherited OR (model = '' AND kind IN ('tool', 'decision', 'output')) "
    "WHERE trace_id = ? AND session_id = home_id"
)

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
    refile: dict[int, int | None] = {}  # session id -> file its inherited facts anew from this time on
    for link in (f for f in facts if f.kind is Kind.LINK):
        session_id = ids.session(link)
        conn.execute(_LINK, (link.trace_id, session_id))
        if conn.execute(_ADOPT, (session_id, link.trace_id)).rowcount:
            refile[session_id] = None  # its adopted tools may lie anywhere in it
    ids.load_traces(conn, facts)
    rows = _merged(ids.row(f) for f in increases(conn, facts, baseline_before) if f.kind is not Kind.LINK)
    if not rows:
        _refile(conn, refile)
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
    for session_id, time_ns, _ in _calls(rows):
        if session_id not in refile:
            refile[session_id] = time_ns
        elif (since := refile[session_id]) is not None:
            refile[session_id] = min(since, time_ns)
    _refile(conn, refile)
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
                fact.model or "", fact.rank, 0)  # fmt: skip
        return head + fact[_FACT_DETAIL]


_INHERITS_MODEL = frozenset({Kind.TOOL.value, Kind.DECISION.value, Kind.OUTPUT.value})
_REQUEST = Kind.REQUEST.value
_LAST = "\U0010ffff"  # sorts after every model name: (t, _LAST) follows every call at t

Call = tuple[int, str]  # (time, model) of a call that names its model
_BEFORE = (
    "SELECT time_ns, model FROM facts WHERE session_id = ? AND kind = 'request' AND model != '' "
    "AND time_ns <= ? ORDER BY time_ns DESC, model DESC LIMIT 1"
)
_AFTER = (
    "SELECT time_ns, model FROM facts WHERE session_id = ? AND kind = 'request' AND model != '' "
    "AND time_ns > ? ORDER BY time_ns, model LIMIT 1"
)
_BETWEEN = (
    "SELECT time_ns, model FROM facts WHERE session_id = ? AND kind = 'request' AND model != '' "
    "AND time_ns BETWEEN ? AND ?"
)


def _calls(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[int, int, str]]:
    """(session id, time, model) of the rows that are calls naming a model, in a real session."""
    for row in rows:
        if row[1] == _REQUEST and row[_MODEL] and row[2] != row[3]:
            yield row[2], row[5], row[_MODEL]


def _stored_calls(conn: sqlite3.Connection, session_id: int, first: int, last: int) -> list[Call]:
    """The session's stored calls from first to last, and the nearest one on either side:
    all that the nearest call of a fact in that span can be (three queries per session)."""
    found = conn.execute(_BETWEEN, (session_id, first, last)).fetchall()
    found += conn.execute(_BEFORE, (session_id, first - 1)).fetchall()
    found += conn.execute(_AFTER, (session_id, last)).fetchall()
    return found


def _nearest(calls: Sequence[Call], time_ns: int) -> str:
    """The model of the latest call at or before time_ns, else of the first after; "" if none.
    calls: sorted. Ties in time go to the greatest model name, the same as _BEFORE's order."""
    at = bisect.bisect_right(calls, (time_ns, _LAST))
    if at:
        return calls[at - 1][1]
    return calls[0][1] if calls else ""


def _with_models(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Model-less tool, decision and output rows of a session, filed under its nearest
    call among this batch's and the stored ones, and marked inherited."""
    orphans: dict[int, list[int]] = {}  # session id -> indexes of its rows that need a model
    for i, r in enumerate(rows):
        if not r[_MODEL] and r[1] in _INHERITS_MODEL and r[2] != r[3]:
            orphans.setdefault(r[2], []).append(i)
    if not orphans:
        return rows
    batch: dict[int, list[Call]] = {}
    for session_id, time_ns, model in _calls(rows):
        batch.setdefault(session_id, []).append((time_ns, model))
    out = list(rows)
    for session_id, indexes in orphans.items():
        times = [rows[i][5] for i in indexes]
        calls = sorted(batch.get(session_id, []) + _stored_calls(conn, session_id, min(times), max(times)))
        for i in indexes:
            row = rows[i]
            out[i] = row[:_MODEL] + (_nearest(calls, row[5]), row[_MODEL + 1], 1) + row[_INHERITED + 1 :]
    return out


_FIRST_CALL = "SELECT min(time_ns) FROM facts WHERE session_id = ? AND kind = 'request' AND model != ''"
_INHERITED_FROM = "SELECT id, time_ns, model FROM facts WHERE session_id = ? AND inherited = 1 AND time_ns >= ?"


def _refile(conn: sqlite3.Connection, since: dict[int, int | None]) -> None:
    """File inherited facts anew after calls arrived (or tools joined a session).

    A call at t can only become the nearest of facts at or after t, or, when it is the
    session's first call, of those before it; None means every inherited fact. The
    UPDATE trigger moves a refiled fact's figures to its new model's rollups."""
    for session_id, time_ns in since.items():
        first = conn.execute(_FIRST_CALL, (session_id,)).fetchone()[0]
        if first is None:
            continue  # no call to file under (a session that only adopted tools)
        if time_ns is not None and time_ns <= first:
            time_ns = None  # a new first call: the facts before it may take it
        candidates = conn.execute(_INHERITED_FROM, (session_id, -(2**63) if time_ns is None else time_ns)).fetchall()
        if not candidates:
            continue
        times = [t for _, t, _ in candidates]
        calls = sorted(_stored_calls(conn, session_id, min(times), max(times)))
        moves = [(m, fact_id) for fact_id, t, model in candidates if (m := _nearest(calls, t)) != model]
        conn.executemany("UPDATE facts SET model = ? WHERE id = ?", moves)


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
    # Before filing: no row of the batch is inherited yet.
    key, kind, session_id, home_id, trace_id, time_ns, model, rank, inherited = old[: len(_HEAD)]
    session_id = new[2] if session_id == home_id else session_id
    head = (key, kind, session_id, home_id, trace_id, time_ns, model or new[_MODEL], min(rank, new[7]), inherited)
    details = tuple(
        a if a is not None else b
        for a, b in zip(old[len(_HEAD) : _FIRST_MEASURE], new[len(_HEAD) : _FIRST_MEASURE])
    )
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
    """First/last seen, and per family the best rank of a source carrying it, for every
    session the facts name (and the home session of their resource, which holds what
    the resource sent without a session: its figures count only where no session's do)."""
    spans: dict[tuple[int, int, tuple[bool, ...]], list[int]] = {}  # (session, home, known) -> [first, last, rank]
    for row in rows:
        key = (row[2], row[3], tuple(v is not None for v in row[_FIRST_MEASURE:]))
        seen = spans.get(key)
        if seen is None:
            spans[key] = [row[5], row[5], row[7]]
        else:
            seen[0], seen[1], seen[2] = min(seen[0], row[5]), max(seen[1], row[5]), min(seen[2], row[7])
    touched: dict[int, dict[str, int]] = {}
    for (session_id, home_id, known), (first, last, rank) in spans.items():
        for sid in {session_id, home_id}:
            t = touched.get(sid)
            if t is None:
                t = touched[sid] = {"id": sid, "first": first, "last": last, **dict.fromkeys(FAMILIES, _NO_RANK)}
            t["first"], t["last"] = min(t["first"], first), max(t["last"], last)
            for family in _families_carried(known):
                t[family] = min(t[family], rank)
    conn.executemany(_TOUCH, touched.values())


@functools.cache
def _families_carried(known: tuple[bool, ...]) -> frozenset[str]:
    """The families of the measures a row knows (known: one flag per measure, in order)."""
    return frozenset(FAMILY_OF[m] for m, is_known in zip(MEASURES, known) if is_known)


def _stored_keys(conn: sqlite3.Connection, keys: list[bytes]) -> set[bytes]:
    found: set[bytes] = set()
    for start in range(0, len(keys), 500):  # well under SQLite's bound-parameter limit
        chunk = keys[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        found.update(k for (k,) in conn.execute(f"SELECT key FROM facts WHERE key IN ({marks})", chunk))
    return found
