"""`agentwatch summary`: sessions, requests, tokens, cost and output for a period.

Never reads facts or raw rows. A session whose activity lies within one day of
the period is read as one row per model from `session_rollups`; only sessions
that cross a day boundary (or the period's edge) are read per quarter hour from
`rollups`. So a summary costs about one row per session and model in the period,
however long the history is, and a year of heavy use is answered in tens of
milliseconds. The breakdowns are then added up in SQL from that small table.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from agentwatch.query.figures import CHANNEL, MEASURES, figures
from agentwatch.query.period import Period


@dataclass(frozen=True, slots=True)
class Summary:
    period: Period
    totals: dict[str, Any]
    by_agent: list[dict[str, Any]]
    by_model: list[dict[str, Any]]
    by_day: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "period": {
                "since": self.period.since.isoformat(),
                "until": self.period.until.isoformat(),
                "tz": self.period.tz_name,
            },
            "totals": self.totals,
            "by_agent": self.by_agent,
            "by_model": self.by_model,
            "by_day": self.by_day,
        }


_COLS = ", ".join(MEASURES)
_RANKED = ", ".join(f"CASE WHEN p.rank = s.{CHANNEL[m]}_rank THEN p.{m} END AS {m}" for m in MEASURES)
_SUMS = ", ".join(f"SUM({m})" for m in MEASURES)

_SETUP = (
    "CREATE TEMP TABLE days (lo INTEGER PRIMARY KEY, hi INTEGER NOT NULL, day TEXT NOT NULL)",
    # (session, model, rank) rows touching the period, with the day their first bucket is in.
    """CREATE TEMP TABLE touching AS
       SELECT sr.*, (SELECT lo FROM days WHERE lo <= sr.first_bucket ORDER BY lo DESC LIMIT 1) AS day_lo
       FROM session_rollups sr WHERE sr.last_bucket >= :start AND sr.first_bucket < :end""",
    # What each session contributes per day: whole rows where it lies within one day,
    # quarter-hour rows where it does not.
    f"""CREATE TEMP TABLE parts AS
       SELECT d.day, t.session_id, t.model, t.rank, t.activity, {_COLS}
       FROM touching t JOIN days d ON d.lo = t.day_lo
       WHERE t.first_bucket >= :start AND t.last_bucket < d.hi
       UNION ALL
       SELECT d.day, r.session_id, r.model, r.rank, r.activity, {", ".join("r." + m for m in MEASURES)}
       FROM touching t
       JOIN rollups r ON r.session_id = t.session_id AND r.model = t.model AND r.rank = t.rank
       JOIN days d ON d.lo = (SELECT lo FROM days WHERE lo <= r.bucket ORDER BY lo DESC LIMIT 1)
       WHERE NOT (t.first_bucket >= :start AND t.last_bucket < (SELECT hi FROM days WHERE lo = t.day_lo))
         AND r.bucket >= :start AND r.bucket < :end""",
    # Each figure from the source its session ranks best for the figure's channel.
    f"""CREATE TEMP TABLE picked AS
       SELECT p.day, s.agent, p.model, p.session_id,
              CASE WHEN s.sid != '' AND p.activity > 0 THEN p.session_id END AS active, {_RANKED}
       FROM parts p JOIN sessions s ON s.id = p.session_id""",
)
_TEARDOWN = tuple(f"DROP TABLE IF EXISTS temp.{t}" for t in ("picked", "parts", "touching", "days"))

_PRESENCE = """
    SELECT DISTINCT d.day, p.agent FROM days d JOIN presence p ON p.bucket >= d.lo AND p.bucket < d.hi
"""


def _grouped(conn: sqlite3.Connection, keys: str) -> list[tuple[Any, ...]]:
    group = f"GROUP BY {keys}" if keys else ""
    select = f"{keys}, " if keys else ""
    return conn.execute(f"SELECT {select}COUNT(DISTINCT active), {_SUMS} FROM picked {group}").fetchall()


def _figures(row: tuple[Any, ...]) -> dict[str, Any]:
    return figures(row[0], row[1:])


_NOTHING = (0,) + (None,) * len(MEASURES)  # an agent or day present with nothing countable


def summary(conn: sqlite3.Connection, period: Period) -> Summary:
    """The period's figures; the caller holds one read transaction (query.reader.snapshot)."""
    bounds = {"start": period.first_bucket, "end": period.end_bucket}
    conn.execute(_SETUP[0])
    try:
        conn.executemany(
            "INSERT INTO days VALUES (?, ?, ?)",
            [(d.first_bucket, d.end_bucket, d.date.isoformat()) for d in period.days],
        )
        for sql in _SETUP[1:]:
            conn.execute(sql, bounds)
        return _collect(conn, period)
    finally:
        for sql in _TEARDOWN:
            conn.execute(sql)


def _collect(conn: sqlite3.Connection, period: Period) -> Summary:
    present = conn.execute(_PRESENCE).fetchall()
    agents = {agent: _figures(_NOTHING) for _, agent in present}
    days = {day: _figures(_NOTHING) for day, _ in present}
    for agent, *row in _grouped(conn, "agent"):
        agents[agent] = _figures(tuple(row))
    for day, *row in _grouped(conn, "day"):
        days[day] = _figures(tuple(row))
    models = {(agent, model): _figures(tuple(row)) for agent, model, *row in _grouped(conn, "agent, model")}
    (total,) = _grouped(conn, "")
    return Summary(
        period=period,
        totals=_figures(total),
        by_agent=[{"agent": a, **agents[a]} for a in sorted(agents)],
        by_model=[{"agent": a, "model": m or None, **models[(a, m)]} for a, m in sorted(models)],
        by_day=[{"date": d, **days[d]} for d in sorted(days)],
    )
