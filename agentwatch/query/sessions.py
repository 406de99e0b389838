"""`agentwatch sessions`: one row per session that carried activity."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from agentwatch.query.figures import Tally, ranked_sums


@dataclass(frozen=True, slots=True)
class SessionRow:
    agent: str
    id: str
    start_ns: int
    end_ns: int
    models: tuple[str, ...]
    figures: dict[str, Any]  # the summary's figures for this session ("sessions" is 1)
    labels: dict[str, Any] = field(default_factory=dict)  # user, team, project, ... where sent


_SQL = f"""
    SELECT s.id, s.agent, s.sid, s.first_ns, s.last_ns, s.labels, r.model, {ranked_sums()}
    FROM sessions s JOIN session_rollups r ON r.session_id = s.id
    WHERE s.sid != '' AND s.last_ns >= ? AND s.first_ns < ?
      AND EXISTS (SELECT 1 FROM session_rollups a WHERE a.session_id = s.id AND a.activity > 0)
    GROUP BY s.id, r.model
"""


def sessions(conn: sqlite3.Connection, since_ns: int, until_ns: int) -> list[SessionRow]:
    """Sessions active between two times, oldest first; figures over their whole life."""
    tallies: dict[int, Tally] = {}
    info: dict[int, tuple[str, str, int, int, str | None]] = {}
    models: dict[int, list[str]] = {}
    for sid, agent, name, first, last, labels, model, *values in conn.execute(_SQL, (since_ns, until_ns)):
        tallies.setdefault(sid, Tally()).add(sid, values)
        info[sid] = (agent, name, first, last, labels)
        if model and any(v is not None for v in values):
            models.setdefault(sid, []).append(model)
    rows = [
        SessionRow(agent, name, first, last, tuple(sorted(models.get(sid, ()))), tallies[sid].as_dict(),
                   json.loads(labels) if labels else {})  # fmt: skip
        for sid, (agent, name, first, last, labels) in info.items()
    ]
    return sorted(rows, key=lambda r: (r.start_ns, r.agent, r.id))

