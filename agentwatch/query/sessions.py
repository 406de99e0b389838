"""`agentwatch sessions`: one row per session that carried activity."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
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


_SQL = f"""
    SELECT s.id, s.agent, s.sid, s.first_ns, s.last_ns, r.model, {ranked_sums()}
    FROM sessions s JOIN rollups r ON r.session_id = s.id
    WHERE s.sid != '' AND s.last_ns >= ? AND s.first_ns < ?
      AND EXISTS (SELECT 1 FROM rollups a WHERE a.session_id = s.id AND a.activity > 0)
    GROUP BY s.id, r.model
"""


def sessions(conn: sqlite3.Connection, since_ns: int, until_ns: int) -> list[SessionRow]:
    """Sessions active between two times, oldest first; figures over their whole life."""
    tallies: dict[int, Tally] = {}
    info: dict[int, tuple[str, str, int, int]] = {}
    models: dict[int, list[str]] = {}
    for sid, agent, name, first, last, model, *values in conn.execute(_SQL, (since_ns, until_ns)):
        tallies.setdefault(sid, Tally()).add(sid, values)
        info[sid] = (agent, name, first, last)
        if model:
            models.setdefault(sid, []).append(model)
    rows = [
        SessionRow(agent, name, first, last, tuple(sorted(models.get(sid, ()))), tallies[sid].as_dict())
        for sid, (agent, name, first, last) in info.items()
    ]
    return sorted(rows, key=lambda r: (r.start_ns, r.agent, r.id))

