"""`agentwatch sessions`: one row per session that carried activity."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Mapping

from agentwatch.query.figures import NOTHING, Figures, add_all, ranked_sums


@dataclass(frozen=True, slots=True)
class SessionRow:
    agent: str
    id: str  # the agent's session id
    start_ns: int
    end_ns: int
    models: tuple[str, ...]
    figures: Figures  # over the session's whole life; sessions is 1
    labels: Mapping[str, Any] = field(default_factory=dict)  # user, team, project, ... where sent
    key: int = 0  # the store's session key, for query.timeline


_SQL = f"""
    SELECT s.id, s.agent, s.sid, s.first_ns, s.last_ns, s.labels, r.model, {ranked_sums()}
    FROM sessions s JOIN session_rollups r ON r.session_id = s.id
    WHERE s.sid != '' AND s.last_ns >= ? AND s.first_ns < ?
      AND EXISTS (SELECT 1 FROM session_rollups a WHERE a.session_id = s.id AND a.activity > 0)
    GROUP BY s.id, r.model
"""


def sessions(conn: sqlite3.Connection, since_ns: int, until_ns: int) -> list[SessionRow]:
    """Sessions active between two times, oldest first; figures over their whole life."""
    sums: dict[int, tuple[Any, ...]] = {}
    info: dict[int, tuple[str, str, int, int, str | None]] = {}
    models: dict[int, list[str]] = {}
    for key, agent, name, first, last, labels, model, *values in conn.execute(_SQL, (since_ns, until_ns)):
        sums[key] = add_all(sums.get(key, NOTHING), values)
        info[key] = (agent, name, first, last, labels)
        if model and any(v is not None for v in values):
            models.setdefault(key, []).append(model)
    rows = [
        SessionRow(agent, name, first, last, tuple(sorted(models.get(key, ()))), Figures.of(1, sums[key]),
                   json.loads(labels) if labels else {}, key)  # fmt: skip
        for key, (agent, name, first, last, labels) in info.items()
    ]
    return sorted(rows, key=lambda r: (r.start_ns, r.agent, r.id))
