"""store.series.increases(): cumulative running totals → the increase each point adds.

Each test feeds Facts built here (as an adapter's point_fact would build them from a
cumulative point: the measures hold the running total, `series` names the series)
into a migrated in-memory database and checks the increases by hand.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterator

import pytest

from agentwatch.records import Fact, Kind
from agentwatch.store import schema
from agentwatch.store.series import increases

SERIES = b"s" * 16
OTHER = b"o" * 16
T0 = 1_800_000_000 * 10**9  # a start time
S = 10**9


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    c = sqlite3.connect(":memory:", isolation_level=None)
    schema.migrate(c)
    yield c
    c.close()


_seq = iter(range(10**6))


def point(time_s: int, start_ns: int = T0, series: bytes | None = SERIES, **measures: Any) -> Fact:
    """A cumulative point's fact `time_s` seconds after T0 (a fresh key each, as each point's row has)."""
    return Fact(
        key=next(_seq).to_bytes(16, "big"),
        kind=Kind.USAGE,
        agent="claude-code",
        resource_key=b"r" * 16,
        time_ns=T0 + time_s * S,
        session="s-1",
        series=series,
        start_ns=start_ns,
        **measures,
    )


def run(conn: sqlite3.Connection, *facts: Fact) -> list[Fact]:
    return list(increases(conn, facts))


def added(conn: sqlite3.Connection, fact: Fact, measure: str = "input_tokens") -> Any:
    """The one increase a point makes, or None when it adds nothing."""
    out = run(conn, fact)
    assert len(out) <= 1
    return getattr(out[0], measure) if out else None


def test_a_delta_fact_passes_through_unchanged(conn: sqlite3.Connection) -> None:
    fact = point(1, series=None, input_tokens=40)
    assert run(conn, fact) == [fact]


def test_a_new_series_counts_its_first_total_whole(conn: sqlite3.Connection) -> None:
    (out,) = run(conn, point(1, input_tokens=100))
    assert out.input_tokens == 100
    assert out.series is None  # the store sees an ordinary fact


def test_later_totals_count_their_increase(conn: sqlite3.Connection) -> None:
    # totals 100, 250, 400 → increases 100, 150 (250 − 100), 150 (400 − 250)
    assert [added(conn, point(t, input_tokens=v)) for t, v in ((1, 100), (2, 250), (3, 400))] == [100, 150, 150]


def test_an_increase_keeps_the_measure_type(conn: sqlite3.Connection) -> None:
    # cost 0.5 then 0.75: the increase is a float 0.25; tokens stay ints
    assert added(conn, point(1, cost_usd=0.5), "cost_usd") == 0.5
    out = added(conn, point(2, cost_usd=0.75), "cost_usd")
    assert out == pytest.approx(0.25) and isinstance(out, float)
    assert added(conn, point(1, series=OTHER, input_tokens=7)) == 7
    assert isinstance(added(conn, point(2, series=OTHER, input_tokens=9)), int)  # 9 − 7 = 2


def test_a_total_lower_than_the_last_is_a_reset_and_counts_from_zero(conn: sqlite3.Connection) -> None:
    # same start time, 500 then 30: the counter restarted at 0 and reached 30 → +30, never −470
    assert added(conn, point(1, input_tokens=500)) == 500
    assert added(conn, point(2, input_tokens=30)) == 30
    assert added(conn, point(3, input_tokens=45)) == 15  # 45 − 30: the reset's total is the new baseline


def test_an_unchanged_total_adds_nothing(conn: sqlite3.Connection) -> None:
    assert added(conn, point(1, input_tokens=100)) == 100
    assert added(conn, point(2, input_tokens=100)) is None


def test_a_repeated_or_older_point_adds_nothing(conn: sqlite3.Connection) -> None:
    assert added(conn, point(5, input_tokens=100)) == 100
    assert added(conn, point(5, input_tokens=100)) is None  # the same point again (a re-send)
    assert added(conn, point(3, input_tokens=60)) is None  # a late point older than the baseline
    assert added(conn, point(6, input_tokens=130)) == 30  # 130 − 100: the late 60 moved nothing


def test_a_new_start_time_is_a_new_process_whose_total_counts_whole(conn: sqlite3.Connection) -> None:
    # process 1 reaches 250; process 2 (a later start) reports 40 then 90 → +40, +50, not 40 − 250
    later = T0 + 60 * S
    assert added(conn, point(1, input_tokens=100)) == 100
    assert added(conn, point(2, input_tokens=250)) == 150
    assert added(conn, point(70, start_ns=later, input_tokens=40)) == 40
    assert added(conn, point(80, start_ns=later, input_tokens=90)) == 50
    # a late point of process 1 still has its own baseline: 260 − 250 = 10
    assert added(conn, point(3, input_tokens=260)) == 10


def test_series_keep_separate_baselines(conn: sqlite3.Connection) -> None:
    assert added(conn, point(1, input_tokens=100)) == 100
    assert added(conn, point(1, series=OTHER, input_tokens=5)) == 5
    assert added(conn, point(2, input_tokens=110)) == 10
    assert added(conn, point(2, series=OTHER, input_tokens=8)) == 3


def test_the_baseline_is_stored_so_a_new_connection_continues_it(tmp_path: Any) -> None:
    # What an agentwatch restart does: the next process reads the baseline from the file.
    path = tmp_path / "s.db"
    first = sqlite3.connect(path, isolation_level=None)
    schema.migrate(first)
    assert added(first, point(1, input_tokens=100)) == 100
    first.close()
    second = sqlite3.connect(path, isolation_level=None)
    assert added(second, point(2, input_tokens=180)) == 80
    second.close()


def test_points_of_one_series_in_one_batch_each_count_their_increase(conn: sqlite3.Connection) -> None:
    out = run(conn, point(1, input_tokens=10), point(2, input_tokens=25), point(2, input_tokens=25))
    assert [f.input_tokens for f in out] == [10, 15]  # 10, 25 − 10; the repeat adds nothing


def test_a_cache_point_grows_both_the_cache_figure_and_input(conn: sqlite3.Connection) -> None:
    # Claude's cacheRead point is cache_read_tokens and part of input_tokens: both grow by 300 − 100
    assert added(conn, point(1, cache_read_tokens=100, input_tokens=100), "cache_read_tokens") == 100
    (out,) = run(conn, point(2, cache_read_tokens=300, input_tokens=300))
    assert (out.cache_read_tokens, out.input_tokens) == (200, 200)


def test_a_family_marker_stays_zero_while_the_point_grows(conn: sqlite3.Connection) -> None:
    # lines added 5 then 12 (removed 0 marks the family carried): +5, +7, removed stays 0
    (a,) = run(conn, point(1, lines_added=5, lines_removed=0))
    (b,) = run(conn, point(2, lines_added=12, lines_removed=0))
    assert (a.lines_added, a.lines_removed, b.lines_added, b.lines_removed) == (5, 0, 7, 0)


def test_the_point_value_is_found_whatever_measure_carries_it(conn: sqlite3.Connection) -> None:
    # lines removed 3 then 8 with lines_added=0 as the marker (lines_added comes first in
    # MEASURES): the increases are 3 and 5 (8 − 3), not the marker's 0
    (a,) = run(conn, point(1, lines_added=0, lines_removed=3))
    (b,) = run(conn, point(2, lines_added=0, lines_removed=8))
    assert (a.lines_removed, b.lines_removed) == (3, 5)
    assert (a.lines_added, b.lines_added) == (0, 0)
    # and a reset of it: 2 after 8 (same start) → +2
    (c,) = run(conn, point(3, lines_added=0, lines_removed=2))
    assert c.lines_removed == 2


def test_a_rejected_decision_count_grows_beside_its_accepted_marker(conn: sqlite3.Connection) -> None:
    # code_edit_tool.decision{decision=reject}: tool_rejected = n, tool_accepted = 0; 1 then 4 → +1, +3
    (a,) = run(conn, point(1, tool_accepted=0, tool_rejected=1))
    (b,) = run(conn, point(2, tool_accepted=0, tool_rejected=4))
    assert (a.tool_rejected, b.tool_rejected, b.tool_accepted) == (1, 3, 0)


def test_a_reported_zero_counts_as_zero_once(conn: sqlite3.Connection) -> None:
    # a first total of 0 is a carried 0 (the family is known), later equal totals add nothing
    (first,) = run(conn, point(1, cost_usd=0.0))
    assert first.cost_usd == 0.0
    assert run(conn, point(2, cost_usd=0.0)) == []


def test_a_point_with_no_measure_is_dropped(conn: sqlite3.Connection) -> None:
    assert run(conn, point(1)) == []
