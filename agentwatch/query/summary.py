"""`agentwatch summary`: sessions, requests, tokens, cost and output for a period.

Never reads facts or raw rows. A session whose activity lies within one day of
the period is read as one row per model from `session_rollups`; only sessions
that cross a day boundary (or the period's edge) are read per quarter hour from
`rollups`. So a summary costs about one row per session and model in the period,
however long the history is. Figures are summed in SQL per day, agent and model;
sessions, which are distinct ids and cannot be summed, are counted per breakdown.
All of it is one read-only statement: safe on any connection, in any thread.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Iterable

from agentwatch.query.figures import MEASURES, NOTHING, Figures, add_all, ranked
from agentwatch.query.period import Period, slot_index


@dataclass(frozen=True, slots=True)
class AgentFigures:
    agent: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class ModelFigures:
    agent: str
    model: str | None  # None: the agent's records in scope named no model
    figures: Figures


@dataclass(frozen=True, slots=True)
class DayFigures:
    date: date
    figures: Figures


@dataclass(frozen=True, slots=True)
class Summary:
    period: Period
    totals: Figures
    by_agent: tuple[AgentFigures, ...]
    by_model: tuple[ModelFigures, ...]
    by_day: tuple[DayFigures, ...]

    @classmethod
    def empty(cls, period: Period) -> Summary:
        """The summary of a store that does not exist yet: nothing recorded."""
        return cls(period, Figures(0), (), (), ())


_COLS = ", ".join(MEASURES)
_RANKED = ", ".join(f"{ranked(m, 'p', 's')} AS {m}" for m in MEASURES)
_SUMS = ", ".join(f"SUM({m})" for m in MEASURES)


def day_index(period: Period, column: str) -> str:
    """SQL: the index in period.days of the day a bucket column falls in, NULL outside."""
    return slot_index([(d.first_bucket, d.end_bucket) for d in period.days], column)


# A CTE read more than once is materialized by default since SQLite 3.35; the hint says
# so where it is understood. Materialized means an ephemeral table inside the statement,
# gone with it: the connection's schema (temp included) is never written.
_MATERIALIZED = "MATERIALIZED" if sqlite3.sqlite_version_info >= (3, 35, 0) else ""


def _picked_cte(period: Period) -> str:
    """The period as one row per (day, session, model, rank) part, each figure ranked.

    A (session, model, rank) row whose first and last bucket fall on the same day of
    the period is that day's part whole; any other is read per quarter hour.
    """
    first, last, bucket = (day_index(period, c) for c in ("sr.first_bucket", "sr.last_bucket", "r.bucket"))
    return f"""
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
        ), picked AS {_MATERIALIZED} (
            SELECT p.day, s.agent, p.model,
                   CASE WHEN s.sid != '' AND p.activity > 0 THEN p.session_id END AS active, {_RANKED}
            FROM parts p JOIN sessions s ON s.id = p.session_id
        )"""


# What each row of the one summary statement is (its first column).
_GROUP, _BY_AGENT, _BY_MODEL, _BY_DAY, _TOTAL, _PRESENT = range(6)


def _summary_sql(period: Period) -> str:
    """One statement, so the picked parts are built once and nothing is written.

    Figures are summed per (day, agent, model): a few hundred rows for a year. Sessions
    are distinct ids, so they are counted per breakdown, not summed from those groups.
    Agents that sent anything in the period come from `presence`, countable or not.
    """
    nulls = ", ".join(["NULL"] * len(MEASURES))
    present = day_index(period, "bucket")
    return f"""{_picked_cte(period)}
        SELECT {_GROUP}, day, agent, model, NULL, {_SUMS} FROM picked GROUP BY day, agent, model
        UNION ALL SELECT {_BY_AGENT}, NULL, agent, NULL, COUNT(DISTINCT active), {nulls} FROM picked GROUP BY agent
        UNION ALL SELECT {_BY_MODEL}, NULL, agent, model, COUNT(DISTINCT active), {nulls}
                  FROM picked GROUP BY agent, model
        UNION ALL SELECT {_BY_DAY}, day, NULL, NULL, COUNT(DISTINCT active), {nulls} FROM picked GROUP BY day
        UNION ALL SELECT {_TOTAL}, NULL, NULL, NULL, COUNT(DISTINCT active), {nulls} FROM picked
        UNION ALL SELECT DISTINCT {_PRESENT}, {present}, agent, NULL, NULL, {nulls}
                  FROM presence WHERE bucket >= :start AND bucket < :end
    """


Row = tuple[Any, ...]  # (what, day, agent, model, sessions, *measures)


def summary(conn: sqlite3.Connection, period: Period) -> Summary:
    """The period's figures; the caller holds one read transaction (Reader.snapshot)."""
    bounds = {"start": period.first_bucket, "end": period.end_bucket}
    rows: dict[int, list[Row]] = {what: [] for what in range(6)}
    for row in conn.execute(_summary_sql(period), bounds):
        rows[row[0]].append(row)
    return _collect(period, rows)


def _collect(period: Period, rows: dict[int, list[Row]]) -> Summary:
    groups = rows[_GROUP]
    agents = _sum_by(groups, lambda g: g[2])
    models = _sum_by(groups, lambda g: (g[2], g[3]))
    days = _sum_by(groups, lambda g: g[1])
    totals = _sum_by(groups, lambda g: None).get(None, NOTHING)
    for _, day, agent, *_rest in rows[_PRESENT]:  # connected, perhaps with nothing countable
        agents.setdefault(agent, NOTHING)
        days.setdefault(day, NOTHING)
    by_agent = _counts(rows[_BY_AGENT], lambda r: r[2])
    by_model = _counts(rows[_BY_MODEL], lambda r: (r[2], r[3]))
    by_day = _counts(rows[_BY_DAY], lambda r: r[1])
    total_sessions = rows[_TOTAL][0][4] if rows[_TOTAL] else 0
    dates = [d.date for d in period.days]
    return Summary(
        period=period,
        totals=Figures.of(total_sessions, totals),
        by_agent=tuple(AgentFigures(a, Figures.of(by_agent.get(a, 0), agents[a])) for a in sorted(agents)),
        # A model row whose every figure is unknown only repeats sessions counted under
        # their models (records that lost to a better source, or came before any call).
        by_model=tuple(
            ModelFigures(a, m or None, Figures.of(by_model.get((a, m), 0), models[(a, m)]))
            for a, m in sorted(models)
            if any(v is not None for v in models[(a, m)])
        ),
        by_day=tuple(DayFigures(dates[d], Figures.of(by_day.get(d, 0), days[d])) for d in sorted(days)),
    )


def _counts(rows: Iterable[Row], key: Callable[[Row], Any]) -> dict[Any, int]:
    return {key(row): row[4] for row in rows}


def _sum_by(groups: list[Row], key: Callable[[Row], Any]) -> dict[Any, tuple[Any, ...]]:
    out: dict[Any, tuple[Any, ...]] = {}
    for group in groups:
        k = key(group)
        known = out.get(k)
        values = tuple(group[5:])
        out[k] = values if known is None else add_all(known, values)
    return out
