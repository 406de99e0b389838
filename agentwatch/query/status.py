"""What `agentwatch status` reports: the listener, the database and stored raw rows per agent.

Read-only: it never creates the database or takes the instance lock for long.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from agentwatch.store.connect import StoreError, db_bytes, open_reader, wal_reset_bug_affected
from agentwatch.store.lock import ListenerInfo, file_is_held, read_listener

__all__ = ["AgentStatus", "ListenerInfo", "StatusReport", "agent_status", "running_listener", "status_report"]

_SIGNAL_FIELDS = {"logs": "logs", "metrics": "metric_points", "traces": "spans"}


@dataclass(frozen=True, slots=True)
class AgentStatus:
    agent: str
    logs: int
    metric_points: int
    spans: int
    last_received_ns: int | None  # None: no row says when


def agent_status(conn: sqlite3.Connection) -> list[AgentStatus]:
    rows = conn.execute(
        "SELECT agent, signal, rows, last_received_ns FROM agent_totals ORDER BY agent"
    ).fetchall()
    merged: dict[str, dict[str, int]] = {}
    for agent, signal, count, last in rows:
        entry = merged.setdefault(agent, {"logs": 0, "metric_points": 0, "spans": 0, "last": 0})
        entry[_SIGNAL_FIELDS[signal]] = count
        entry["last"] = max(entry["last"], last)
    return [
        AgentStatus(agent, e["logs"], e["metric_points"], e["spans"], e["last"] or None)
        for agent, e in merged.items()
    ]


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What `agentwatch status` reports; `error` says why the agents could not be read."""

    db: Path
    db_bytes: int | None  # None: no database yet
    sqlite_version: str
    sqlite_wal_reset_bug: bool  # this SQLite has the WAL-reset bug (see store.connect)
    listener: ListenerInfo | None  # None: no listener holds the lock
    agents: tuple[AgentStatus, ...] = ()
    error: str | None = None


def _agents(db: Path) -> tuple[AgentStatus, ...]:
    conn = open_reader(db)
    try:
        return tuple(agent_status(conn))
    finally:
        conn.close()


def running_listener(db: Path) -> ListenerInfo | None:
    """The listener serving db (pid and ports, from its lock file), or None; creates nothing."""
    return read_listener(db)


def status_report(db: Path) -> StatusReport:
    """The listener, the database and its agents; read-only, whatever state the file is in."""
    listener = running_listener(db)
    exists = db.exists()
    agents: tuple[AgentStatus, ...] = ()
    error = None
    if exists:
        try:
            agents = _agents(db)
        except (StoreError, sqlite3.Error) as exc:
            error = str(exc)
    if listener is not None and not file_is_held(db):
        error = (
            f"the running agentwatch serve (pid {listener.pid}) no longer writes to {db}: the file was "
            "deleted or replaced after it started, and it refuses every export (503); restart it"
        )
    size = db_bytes(db) if db.is_file() else None  # a directory's size is not a database's
    return StatusReport(
        db, size, sqlite3.sqlite_version, wal_reset_bug_affected(sqlite3.sqlite_version), listener, agents, error
    )
