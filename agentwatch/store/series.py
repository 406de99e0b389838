"""Cumulative → delta: a running total becomes the increase since the last one seen.

A series is keyed by its full identity (resource, scope, metric name, point
attributes) and its start time, so a new process (a new start time) is a new
series whose first total counts whole, and two processes reporting the same
session keep separate baselines. Baselines live in the database, written by the
writer in the ingest transaction, so they survive an agentwatch restart.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable, Iterator

from agentwatch.records import MEASURES, Fact


def increases(conn: sqlite3.Connection, facts: Iterable[Fact], baseline_before: int | None = None) -> Iterator[Fact]:
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
        increase = _advance(conn, fact, total, baseline_before)
        if increase is None:
            continue
        yield _scaled(fact, total, increase)


def _total(fact: Fact) -> float | None:
    """The point's value: the largest measure, since its siblings are 0 markers of a carried family.

    Not the first non-null measure: a `lines_removed` point carries `lines_added=0`
    before it in MEASURES, and taking that 0 as the total dropped every later increase.
    """
    values = [float(v) for v in (getattr(fact, name) for name in MEASURES) if v is not None]
    return max(values) if values else None


def _advance(conn: sqlite3.Connection, fact: Fact, total: float, baseline_before: int | None) -> float | None:
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
    if last is None and baseline_before is not None and fact.start_ns < baseline_before:
        return None  # reindex: what this series counted before the kept facts' end is already in them
    if last is None or total < last[1]:  # a new series, or a reset: counts from zero
        return total
    increase = total - last[1]
    return increase if increase > 0 else None


def _scaled(fact: Fact, total: float, increase: float) -> Fact:
    changes: dict[str, Any] = {}  # measure → increase (typed Any: _replace checks each field apart)
    for name in MEASURES:
        value = getattr(fact, name)
        # Measures equal to the point's total grow with it; a family member the point
        # only marks as carried (lines removed 0 beside lines added) stays as it is.
        if value is not None and float(value) == total:
            changes[name] = increase if isinstance(value, float) else round(increase)
    return fact._replace(series=None, **changes)
