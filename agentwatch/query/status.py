"""What `agentwatch status` reports: the listener, the database and stored raw rows per agent.

Read-only: it never creates the database or takes the instance lock for long.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agentwatch.store.connect import StoreError, db_bytes, open_reader
from agentwatch.store.lock import read_listener

_SIGNAL_FIELDS = {"logs": "logs", "metrics": "metric_points", "traces": "spans"}


@dataclass(frozen=True, slots=True)
class AgentStatus:
    agent: str
    logs: int
    metric_points: int
    spans: int
    last_received_ns: int


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
        AgentStatus(agent, e["logs"], e["metric_points"], e["spans"], e["last"])
        for agent, e in merged.items()
    ]


def _iso(ns: int) -> str | None:
    if not ns:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="seconds")


def _agents(db: Path) -> list[dict[str, Any]]:
    conn = open_reader(db)
    try:
        statuses = agent_status(conn)
    finally:
        conn.close()
    return [
        {
            "agent": a.agent,
            "logs": a.logs,
            "metric_points": a.metric_points,
            "spans": a.spans,
            "last_received": _iso(a.last_received_ns),
        }
        for a in statuses
    ]


def status_report(db: Path) -> dict[str, Any]:
    """The report `agentwatch status --json` prints; an `error` key if the database can't be read."""
    listener = read_listener(db)
    report: dict[str, Any] = {
        "db": str(db),
        "db_bytes": db_bytes(db) if db.exists() else None,
        "sqlite_version": sqlite3.sqlite_version,
        "listener": {
            "running": listener is not None,
            "pid": listener.pid if listener else None,
            "http_port": listener.http_port if listener else None,
            "grpc_port": listener.grpc_port if listener else None,
            "keep_content": listener.keep_content if listener else None,
        },
        "agents": [],
    }
    if db.exists():
        try:
            report["agents"] = _agents(db)
        except (StoreError, sqlite3.Error) as exc:
            report["error"] = str(exc)
    return report
