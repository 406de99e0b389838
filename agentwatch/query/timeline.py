"""One session's timeline: its model calls and tool calls in the order they happened.

From `facts`, so it reaches back as far as facts are kept (their raw rows'
retention, 30 days by default); the session's figures come from its rollups and
outlive them (query.sessions).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Mapping

from agentwatch.query.feed import COLUMNS, Activity, activity


@dataclass(frozen=True, slots=True)
class Timeline:
    session_key: int
    agent: str
    session: str  # the agent's session id
    first_ns: int | None
    last_ns: int | None
    items: tuple[Activity, ...]  # by time, then the order they were stored
    labels: Mapping[str, Any] = field(default_factory=dict)


def timeline(conn: sqlite3.Connection, session_key: int) -> Timeline | None:
    """The session's calls and tools, each from the source its figures count; None if no such session."""
    head = conn.execute(
        "SELECT agent, sid, first_ns, last_ns, labels FROM sessions WHERE id = ?", (session_key,)
    ).fetchone()
    if head is None:
        return None
    agent, sid, first, last, labels = head
    rows = conn.execute(f"SELECT {COLUMNS} AND f.session_id = ? ORDER BY f.time_ns, f.id", (session_key,)).fetchall()
    return Timeline(session_key, agent, sid, first, last, tuple(activity(r) for r in rows),
                    json.loads(labels) if labels else {})  # fmt: skip
