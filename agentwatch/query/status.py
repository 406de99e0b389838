"""What `agentwatch status` reports: stored raw rows per agent, read-only."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

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
