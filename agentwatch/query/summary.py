"""`agentwatch summary`: sessions, requests, tokens, cost and output for a period.

Never reads facts or raw rows. A session whose activity lies within one day of
the period is read as one row per model from `session_rollups`; only sessions
that cross a day boundary (or the period's edge) are read per quarter hour from
`rollups`. So a summary costs about one row per session and model in the period,
however long the history is. Figures are summed in SQL per day, agent and model;
sessions, which are distinct ids and cannot be summed, are counted from sets.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Callable

from agentwatch.query.figures import CHANNEL, MEASURES, add, figures
from agentwatch.query.period import Period


@dataclass(frozen=True, slots=True)
class Summary:
    period: Period
    totals: dict[str, Any]
    by_agent: list[dict[str, Any]]
    by_model: list[dict[str, Any]]
    by_day: list[dict[str, Any]]

    @classmethod
    def empty(cls, period: Period) -> Summary:
        """The summary of a store that does not exist yet: nothing recorded."""
        return cls(period, figures(0, (None,) * len(MEASURES)), [], [], [])

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


def day_index(period: Period, column: str) -> str:
    """SQL: the index in period.days of the day a bucket column falls in, NULL outside.

    Days come in runs of equal length (96 quarter hours; 92 or 100 on a DST change),
    so a handful of arithmetic cases replace a lookup per row. Only integers the
    period computed are written into the SQL.
    """
    runs: list[list[int]] = []  # [first bucket, end bucket, first day index, buckets per day]
    for index, day in enumerate(period.days):
        length = day.end_bucket - day.first_bucket
        if runs and runs[-1][3] == length and runs[-1][1] == day.first_bucket:
            runs[-1][1] = day.end_bucket
        else:
            runs.append([day.first_bucket, day.end_bucket, index, length])
    cases = " ".join(
        f"WHEN {column} < {end} THEN {first} + ({column} - {start}) / {length}"
        for start, end, first, length in runs
    )
    return f"(CASE WHEN {column} < {period.first_bucket} THEN NULL {cases} END)"


def _picked_sql(period: Period) -> str:
    """The period as one row per (day, session, model, rank) part, each figure ranked.

    A (session, model, rank) row whose first and last bucket fall on the same day of
    the period is that day's part whole; any other is read per quarter hour.
    """
    first, last, bucket = (day_index(period, c) for c in ("sr.first_bucket", "sr.last_bucket", "r.bucket"))
    return f"""
        CREATE TEMP TABLE picked AS
        WITH touching AS (
            SELECT sr.*, {first} AS d1, {last} AS d2 FROM session_rollups sr
            WHERE sr.last_bucket >= :start AND sr.first_bucket < :end
        ), parts AS (
            SELECT d1 AS day, session_id, model, rank, activity, {_COLS}
            FROM touching WHERE d1 = d2
            UNION ALL
            SELECT {bucket}, r.session_id, r.model, r.rank, r.activity, {", ".join("r." + m for m in MEASURES)}
            FROM touching sr
            JOIN rollups r ON r.session_id = sr.session_id AND r.model = sr.model AND r.rank = sr.rank
            WHERE (sr.d1 IS NULL OR sr.d2 IS NULL OR sr.d1 != sr.d2)
              AND r.bucket >= :start AND r.bucket < :end
        )
        SELECT p.day, s.agent, p.model,
               CASE WHEN s.sid != '' AND p.activity > 0 THEN p.session_id END AS active, {_RANKED}
        FROM parts p JOIN sessions s ON s.id = p.session_id
    """


_NOTHING = (None,) * len(MEASURES)  # an agent or day present with nothing countable


def summary(conn: sqlite3.Connection, period: Period) -> Summary:
    """The period's figures; the caller holds one read transaction (query.reader.snapshot)."""
    bounds = {"start": period.first_bucket, "end": period.end_bucket}
    conn.execute(_picked_sql(period), bounds)
    try:
        return _collect(conn, period, bounds)
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.picked")


def _collect(conn: sqlite3.Connection, period: Period, bounds: dict[str, int]) -> Summary:
    dates = [d.date.isoformat() for d in period.days]
    # Figures summed per (day, agent, model) in SQL: a few hundred rows for a year.
    groups = conn.execute(f"SELECT day, agent, model, {_SUMS} FROM picked GROUP BY 1, 2, 3").fetchall()
    agents = _sum_by(groups, lambda g: g[1])
    models = _sum_by(groups, lambda g: (g[1], g[2]))
    days = _sum_by(groups, lambda g: g[0])
    totals = _sum_by(groups, lambda g: None).get(None, _NOTHING)
    presence = f"SELECT DISTINCT {day_index(period, 'bucket')}, agent FROM presence WHERE bucket >= :start AND bucket < :end"
    for day, agent in conn.execute(presence, bounds):  # connected, perhaps with nothing countable
        agents.setdefault(agent, _NOTHING)
        days.setdefault(day, _NOTHING)
    # Sessions are distinct ids, so they are counted per breakdown, not summed from groups.
    by_agent, by_model, by_day = (_sessions_by(conn, k) for k in ("agent", "agent, model", "day"))
    (total_sessions,) = conn.execute("SELECT COUNT(DISTINCT active) FROM picked").fetchone()
    return Summary(
        period=period,
        totals=figures(total_sessions, totals),
        by_agent=[{"agent": a, **figures(by_agent.get((a,), 0), agents[a])} for a in sorted(agents)],
        # A model row whose every figure is unknown only repeats sessions counted under
        # their models (records that lost to a better source, or came before any call).
        by_model=[
            {"agent": a, "model": m or None, **figures(by_model.get((a, m), 0), models[(a, m)])}
            for a, m in sorted(models)
            if any(v is not None for v in models[(a, m)])
        ],
        by_day=[{"date": dates[d], **figures(by_day.get((d,), 0), days[d])} for d in sorted(days)],
    )


def _sessions_by(conn: sqlite3.Connection, keys: str) -> dict[tuple[Any, ...], int]:
    rows = conn.execute(f"SELECT {keys}, COUNT(DISTINCT active) FROM picked GROUP BY {keys}")
    return {tuple(row[:-1]): row[-1] for row in rows}


def _sum_by(groups: list[tuple[Any, ...]], key: Callable[[tuple[Any, ...]], Any]) -> dict[Any, tuple[Any, ...]]:
    out: dict[Any, tuple[Any, ...]] = {}
    for group in groups:
        k = key(group)
        known = out.get(k)
        values = tuple(group[3:])
        out[k] = values if known is None else tuple(add(a, b) for a, b in zip(known, values))
    return out
