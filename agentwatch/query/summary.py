"""`agentwatch summary`: sessions, requests, tokens, cost and output for a period.

Reads only rollups (kept per 15 minutes by the ingest transaction), sessions and
presence, so a year costs about as much as a month: the rows read are one per
session, model and quarter hour of activity, never one per record.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from agentwatch.query.figures import Tally, ranked_sums
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


def _days_cte(period: Period) -> tuple[str, list[Any]]:
    values = ", ".join("(?, ?, ?)" for _ in period.days)
    params: list[Any] = []
    for day in period.days:
        params += [day.date.isoformat(), day.first_bucket, day.end_bucket]
    return f"WITH days(day, lo, hi) AS (VALUES {values})", params


def _rows_sql(cte: str) -> str:
    # One row per day, session and model; sessions are counted here (distinct ids with
    # activity), the figures summed by rank in SQL and added up per breakdown in Python.
    return f"""
        {cte}
        SELECT d.day, s.agent, r.model, r.session_id, s.sid != '' AND SUM(r.activity) > 0, {ranked_sums()}
        FROM days d
        JOIN rollups r ON r.bucket >= d.lo AND r.bucket < d.hi
        JOIN sessions s ON s.id = r.session_id
        GROUP BY d.day, r.session_id, r.model
    """


def _presence_sql(cte: str) -> str:
    return f"""
        {cte}
        SELECT DISTINCT d.day, p.agent FROM days d
        JOIN presence p ON p.bucket >= d.lo AND p.bucket < d.hi
    """


def summary(conn: sqlite3.Connection, period: Period) -> Summary:
    cte, params = _days_cte(period)
    totals = Tally()
    agents: dict[str, Tally] = {}
    models: dict[tuple[str, str], Tally] = {}
    days: dict[str, Tally] = {}
    for day, agent in conn.execute(_presence_sql(cte), params):
        agents.setdefault(agent, Tally())
        days.setdefault(day, Tally())
    for day, agent, model, session_id, counted, *values in conn.execute(_rows_sql(cte), params):
        session = session_id if counted else None
        for tally in (
            totals,
            agents.setdefault(agent, Tally()),
            models.setdefault((agent, model), Tally()),
            days.setdefault(day, Tally()),
        ):
            tally.add(session, values)
    return Summary(
        period=period,
        totals=totals.as_dict(),
        by_agent=[{"agent": a, **agents[a].as_dict()} for a in sorted(agents)],
        by_model=[
            {"agent": a, "model": m or None, **models[(a, m)].as_dict()} for a, m in sorted(models)
        ],
        by_day=[{"date": d, **days[d].as_dict()} for d in sorted(days)],
    )

