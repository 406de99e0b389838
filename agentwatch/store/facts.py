"""Writing normalised facts, in the transaction that stores the rows they came from.

Each fact is inserted under its key: a key already stored (a re-sent record, or a
second record about the same call) merges into the stored fact, keeping every
figure already known and filling in the ones it lacked. Triggers (schema m002)
keep the rollups and the sessions' precedence ranks in step with the facts.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable

from agentwatch.records import MEASURES, Fact, Kind
from agentwatch.store.series import increases

_DETAIL = ("name", "decision", "decision_source", "success", "duration_ms", "error")


def _merge(column: str) -> str:
    return (
        f"{column} = CASE WHEN excluded.{column} IS NULL THEN {column} WHEN {column} IS NULL "
        f"THEN excluded.{column} ELSE max({column}, excluded.{column}) END"
    )


_SESSION = "(SELECT id FROM sessions WHERE agent = :agent AND scope = :scope AND sid = :session)"
_HOME = "(SELECT id FROM sessions WHERE agent = :agent AND scope = :home AND sid = '')"
_TRACE = "(SELECT session_id FROM trace_sessions WHERE trace_id = :trace_id AND :trace_id != x'')"

_INSERT = f"""
    INSERT INTO facts (key, kind, session_id, home_id, trace_id, time_ns, model, rank,
                       {", ".join(_DETAIL)}, {", ".join(MEASURES)})
    VALUES (:key, :kind, coalesce(CASE WHEN :session != '' THEN {_SESSION} END, {_TRACE}, {_HOME}),
            {_HOME}, :trace_id, :time_ns, :model, :rank,
            {", ".join(":" + c for c in _DETAIL)}, {", ".join(":" + m for m in MEASURES)})
    ON CONFLICT (key) DO UPDATE SET
        session_id = CASE WHEN session_id = home_id THEN excluded.session_id ELSE session_id END,
        model = CASE WHEN model = '' THEN excluded.model ELSE model END,
        rank = min(rank, excluded.rank),
        {", ".join(f"{c} = coalesce({c}, excluded.{c})" for c in _DETAIL)},
        {", ".join(_merge(m) for m in MEASURES)}
"""

_UPSERT_SESSION = (
    "INSERT INTO sessions (agent, scope, sid, labels) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (agent, scope, sid) DO UPDATE SET labels = coalesce(labels, excluded.labels)"
)
_LINK = f"INSERT OR IGNORE INTO trace_sessions (trace_id, session_id) VALUES (:trace_id, {_SESSION})"
# Facts of the trace that arrived before its session was known move to it (triggers move
# their rollups).
_ADOPT = f"UPDATE facts SET session_id = {_SESSION} WHERE trace_id = :trace_id AND session_id = home_id"


def home_scope(resource_key: bytes) -> str:
    """The session scope of a resource's records that name no session."""
    return resource_key.hex()


def insert_facts(conn: sqlite3.Connection, facts: Iterable[Fact], baseline_before: int | None = None) -> int:
    """Store facts (the caller owns the transaction); returns how many were written.

    baseline_before: see series.increases (reindex after retention pruned rows).
    """
    facts = list(facts)
    if not facts:
        return 0
    _ensure_sessions(conn, facts)
    links = [_params(f) for f in facts if f.kind is Kind.LINK]
    if links:
        conn.executemany(_LINK, links)
        conn.executemany(_ADOPT, links)
    rows = [_params(f) for f in increases(conn, facts, baseline_before) if f.kind is not Kind.LINK]
    conn.executemany(_INSERT, rows)
    return len(rows)


def insert_presence(conn: sqlite3.Connection, presence: Iterable[tuple[int, str]]) -> None:
    """Which agents sent anything per 15 minutes, counted or not (a summary lists them)."""
    conn.executemany("INSERT OR IGNORE INTO presence (bucket, agent) VALUES (?, ?)", presence)


def _ensure_sessions(conn: sqlite3.Connection, facts: list[Fact]) -> None:
    wanted: dict[tuple[str, str, str], str | None] = {}
    for f in facts:
        wanted.setdefault((f.agent, home_scope(f.resource_key), ""), None)
        if f.session:
            key = (f.agent, f.session_scope, f.session)
            if wanted.get(key) is None:
                wanted[key] = f.labels
    conn.executemany(_UPSERT_SESSION, [(*key, labels) for key, labels in wanted.items()])


def _params(fact: Fact) -> dict[str, object]:
    params = fact._asdict()
    params["kind"] = fact.kind.value
    params["scope"] = fact.session_scope
    params["home"] = home_scope(fact.resource_key)
    params["model"] = fact.model or ""
    return params
