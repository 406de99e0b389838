"""Cumulative → delta: a running total becomes the increase since the last one seen.

A series is keyed by its full identity (resource, scope, metric name, point
attributes) and its start time, so a new process (a new start time) is a new
series whose first total counts whole, and two processes reporting the same
session keep separate baselines. Baselines live in the database, written by the
writer in the ingest transaction, so they survive an agentwatch restart.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable, Iterator

from agentwatch.records import MEASURES, Fact


def increases(conn: sqlite3.Connection, facts: Iterable[Fact]) -> Iterator[Fact]:
    """Facts as increases: delta facts pass through; cumulative ones become their increase.

    A cumulative fact's measures are each its point's total. A point no newer than
    the last one seen (a re-send, or a late duplicate) adds nothing; a total lower
    than the last is a counter reset, so it counts from zero; a total equal to the
    last adds nothing and is dropped once the series has carried its figures.
    """
    for fact in facts:
        if fact.series is None:
            yield fact
            continue
        total = _total(fact)
        if total is None:
            continue
        increase = _advance(conn, fact, total)
        if increase is None:
            continue
        yield _scaled(fact, total, increase)


def _total(fact: Fact) -> float | None:
    for name in MEASURES:
        value = getattr(fact, name)
        if value is not None:
            return float(value)
    return None


def _advance(conn: sqlite3.Connection, fact: Fact, total: float) -> float | None:
    """Record the new total; the increase it makes, or None when it adds nothing new."""
    last = conn.execute(
        "SELECT time_ns, value FROM series WHERE key = ? AND start_ns = ?", (fact.series, fact.start_ns)
    ).fetchone()
    if last is not None and fact.time_ns <= last[0]:
        return None
    conn.execute(
        "INSERT INTO series (key, start_ns, time_ns, value) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (key, start_ns) DO UPDATE SET time_ns = excluded.time_ns, value = excluded.value",
        (fact.series, fact.start_ns, fact.time_ns, total),
    )
    if last is None or total < last[1]:  # a new series, or a reset: counts from zero
        return total
    increase = total - last[1]
    return increase if increase > 0 else None


def _scaled(fact: Fact, total: float, increase: float) -> Fact:
    changes: dict[str, int | float] = {}
    for name in MEASURES:
        value = getattr(fact, name)
        # Measures equal to the point's total grow with it; a family member the point
        # only marks as carried (lines removed 0 beside lines added) stays as it is.
        if value is not None and float(value) == total:
            changes[name] = increase if isinstance(value, float) else round(increase)
    return fact._replace(series=None, **changes)
