"""Figures over time for a window: per local hour for a day or less, per local day beyond.

From the 15-minute rollups (never facts), so a series reaches back as far as
summaries do and costs one row per bucket, session and model in the window.
Each slot is an exact run of buckets in any zone (see query.window); every slot
of the window is present, those with nothing recorded as sessions 0 and the
rest unknown, so a chart's axis is regular.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from agentwatch.query.figures import Figures, ranked_sums
from agentwatch.query.period import slot_index
from agentwatch.query.window import Window, slots


@dataclass(frozen=True, slots=True)
class Point:
    start_ns: int  # the local hour's or day's first instant
    end_ns: int
    figures: Figures

    @property
    def tokens(self) -> int | None:
        """Input plus output (input includes cache, output reasoning: the GenAI convention)."""
        f = self.figures
        if f.input_tokens is None and f.output_tokens is None:
            return None
        return (f.input_tokens or 0) + (f.output_tokens or 0)


@dataclass(frozen=True, slots=True)
class Series:
    window: Window
    points: tuple[Point, ...]

    @property
    def hourly(self) -> bool:
        """Points are local hours (else local days), as the window's length says."""
        return self.window.hourly


def _sql(index: str) -> str:
    return f"""
        SELECT {index} AS slot,
               COUNT(DISTINCT CASE WHEN s.sid != '' AND r.activity > 0 THEN r.session_id END),
               {ranked_sums()}
        FROM rollups r JOIN sessions s ON s.id = r.session_id
        WHERE r.bucket >= :start AND r.bucket < :end
        GROUP BY slot
    """


def series(conn: sqlite3.Connection, window: Window) -> Series:
    cut = slots(window)
    bounds = [(c.first_bucket, c.end_bucket) for c in cut]
    found = {
        slot: Figures.of(sessions, values)
        for slot, sessions, *values in conn.execute(
            _sql(slot_index(bounds, "r.bucket")), {"start": bounds[0][0], "end": bounds[-1][1]}
        )
        if slot is not None
    }
    points = tuple(Point(c.start_ns, c.end_ns, found.get(i) or Figures(0)) for i, c in enumerate(cut))
    return Series(window, points)
