"""query.summary: facts (as adapters build them) through store.facts.insert_facts into a
migrated database, read by query.summary.summary: how figures add up across agents,
models, days and sessions, and which source counts. The `agentwatch summary` command
itself is tested in tests/commands/test_summary.py.

Expected figures are written by hand with their arithmetic.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Iterator

import pytest

from agentwatch.query.period import period
from agentwatch.query.summary import summary
from agentwatch.records import Fact, Kind
from agentwatch.report.render import summary_json
from agentwatch.store import schema
from agentwatch.store.facts import insert_facts
from support.figures import at, expect, strip


# -- part one: figures from facts -------------------------------------------------------
@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Any]:
    import sqlite3

    c = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    schema.migrate(c)
    yield c
    c.close()


_keys = iter(range(1, 10**6))


def fact(kind: Kind, when: str, agent: str = "claude-code", session: str = "s1", **fields: Any) -> Fact:
    return Fact(
        key=next(_keys).to_bytes(16, "big"),
        kind=kind,
        agent=agent,
        resource_key=agent.encode().ljust(16, b"_"),
        time_ns=at(when),
        session=session,
        **fields,
    )


def call(when: str, agent: str = "claude-code", session: str = "s1", **fields: Any) -> Fact:
    """One model call (an api_request event): requests 1, errors 0."""
    return fact(Kind.REQUEST, when, agent, session, requests=1, errors=0, **fields)


def store(conn: Any, *facts: Fact) -> None:
    conn.execute("BEGIN")
    insert_facts(conn, facts)
    conn.execute("COMMIT")


def read(conn: Any, since: str, until: str, tz: str = "UTC") -> dict[str, Any]:
    conn.execute("BEGIN")
    try:
        return summary_json(summary(conn, period(date.fromisoformat(since), date.fromisoformat(until), tz)))
    finally:
        conn.execute("COMMIT")


def test_totals_add_known_values_and_stay_null_only_when_all_are(conn: Any) -> None:
    # claude-code: one call, input 100, output 10, cost 0.25
    # codex:       one call, input 300, output 30, reasoning 5, no cost (none reported)
    #   totals: sessions 2, requests 2, errors 0, input 400, output 40, reasoning 0 + 5 → 5 (— + 5),
    #           cost 0.25 + — = 0.25; cache, lines, commits, PRs, tools: — in every part → —
    store(
        conn,
        call("2026-11-23T10:00:00", input_tokens=100, output_tokens=10, cost_usd=0.25),
        call("2026-11-23T10:01:00", agent="codex", session="c1", input_tokens=300, output_tokens=30, reasoning_tokens=5),
    )
    out = read(conn, "2026-11-23", "2026-11-23")
    agents = {r["agent"]: strip(r) for r in out["by_agent"]}
    assert agents == {
        "claude-code": expect(1, requests=1, errors=0, input_tokens=100, output_tokens=10, cost_usd=0.25),
        "codex": expect(1, requests=1, errors=0, input_tokens=300, output_tokens=30, reasoning_tokens=5),
    }
    assert out["totals"] == expect(2, requests=2, errors=0, input_tokens=400, output_tokens=40, reasoning_tokens=5, cost_usd=0.25)


def test_a_session_across_midnight_is_one_session_and_in_both_days(conn: Any) -> None:
    # Session s1: calls at 23:50 UTC on the 23rd (input 1) and 00:10 on the 24th (input 10).
    #   UTC: 23rd requests 1, input 1; 24th requests 1, input 10; each day 1 session; totals 1 session, 2 calls
    #   Los Angeles (−8): both calls on the 23rd (15:50 and 16:10) → one day, 1 session, input 11
    store(conn, call("2026-11-23T23:50:00", input_tokens=1), call("2026-11-24T00:10:00", input_tokens=10))
    out = read(conn, "2026-11-23", "2026-11-24")
    assert [(d["date"], d["sessions"], d["requests"], d["input_tokens"]) for d in out["by_day"]] == [
        ("2026-11-23", 1, 1, 1),
        ("2026-11-24", 1, 1, 10),
    ]
    assert (out["totals"]["sessions"], out["totals"]["requests"], out["totals"]["input_tokens"]) == (1, 2, 11)
    la = read(conn, "2026-11-23", "2026-11-24", "America/Los_Angeles")
    assert [(d["date"], d["sessions"], d["input_tokens"]) for d in la["by_day"]] == [("2026-11-23", 1, 11)]


def test_only_the_part_of_a_session_inside_the_period_counts(conn: Any) -> None:
    # s1 made calls on the 22nd (input 1), 23rd (input 10) and 24th (input 100); the 23rd alone
    # holds input 10, 1 request, and the session once.
    store(
        conn,
        call("2026-11-22T12:00:00", input_tokens=1),
        call("2026-11-23T12:00:00", input_tokens=10),
        call("2026-11-24T12:00:00", input_tokens=100),
    )
    out = read(conn, "2026-11-23", "2026-11-23")
    assert out["totals"] == expect(1, requests=1, errors=0, input_tokens=10)
    assert read(conn, "2026-11-25", "2026-11-30")["totals"] == expect(0)


def test_a_session_within_one_day_and_one_across_days_add_up_together(conn: Any) -> None:
    # s1 within the 23rd (two calls: input 1 + 2), s2 across midnight (input 10 on the 23rd,
    # 20 on the 24th). Period 23rd–24th, UTC:
    #   23rd: sessions 2, requests 3, input 1 + 2 + 10 = 13;  24th: sessions 1, requests 1, input 20
    #   totals: sessions 2, requests 4, input 33
    store(
        conn,
        call("2026-11-23T09:00:00", input_tokens=1),
        call("2026-11-23T21:00:00", input_tokens=2),
        call("2026-11-23T23:59:00", session="s2", input_tokens=10),
        call("2026-11-24T00:01:00", session="s2", input_tokens=20),
    )
    out = read(conn, "2026-11-23", "2026-11-24")
    assert [(d["date"], d["sessions"], d["requests"], d["input_tokens"]) for d in out["by_day"]] == [
        ("2026-11-23", 2, 3, 13),
        ("2026-11-24", 1, 1, 20),
    ]
    assert (out["totals"]["sessions"], out["totals"]["requests"], out["totals"]["input_tokens"]) == (2, 4, 33)


def test_the_best_source_of_a_session_counts_per_channel(conn: Any) -> None:
    # s1: an event (rank 0) and the metric repeating it (rank 2): the event's figures only.
    # s2: the metric alone (rank 2): its tokens and cost, no request count.
    # s1's tools: only decision metrics (rank 2, tools channel): they count, since no better
    # tool source exists for s1 — channels are ranked apart.
    #   input: s1 100 (not 100 + 100), s2 40 → 140; cost 0.1 + 0.05 = 0.15; requests 1 (s1's event)
    #   tool_accepted 2, tool_rejected 0 (s1's decision metric), tool_calls — (no tool call record)
    store(
        conn,
        call("2026-11-23T10:00:00", input_tokens=100, cost_usd=0.1, rank=0),
        fact(Kind.USAGE, "2026-11-23T10:00:30", input_tokens=100, cost_usd=0.1, rank=2),
        fact(Kind.USAGE, "2026-11-23T10:00:30", session="s2", input_tokens=40, cost_usd=0.05, rank=2),
        fact(Kind.DECISION, "2026-11-23T10:00:40", tool_accepted=2, tool_rejected=0, rank=2),
    )
    out = read(conn, "2026-11-23", "2026-11-23")
    assert out["totals"] == expect(
        2, requests=1, errors=0, input_tokens=140, cost_usd=0.15, tool_accepted=2, tool_rejected=0
    )


def test_output_alone_is_not_a_session_but_its_lines_count(conn: Any) -> None:
    # s1 carries only lines_of_code (7 added, 0 removed): not activity, so 0 sessions; lines 7 / 0
    store(conn, fact(Kind.OUTPUT, "2026-11-23T10:00:00", lines_added=7, lines_removed=0))
    assert read(conn, "2026-11-23", "2026-11-23")["totals"] == expect(0, lines_added=7, lines_removed=0)


def test_records_without_a_session_count_their_figures_but_are_no_session(conn: Any) -> None:
    # a call naming no session (the resource's no-session row): requests 1, input 5, sessions 0
    store(conn, call("2026-11-23T10:00:00", session="", input_tokens=5))
    out = read(conn, "2026-11-23", "2026-11-23")
    assert out["totals"] == expect(0, requests=1, errors=0, input_tokens=5)
    assert [strip(r) for r in out["by_agent"]] == [expect(0, requests=1, errors=0, input_tokens=5)]


def test_a_tool_call_naming_no_model_is_filed_under_the_call_before_it(conn: Any) -> None:
    # a call on opus (input 3), then a tool call naming no model: one opus row with both
    store(
        conn,
        call("2026-11-23T10:00:00", model="claude-opus-4-8", input_tokens=3),
        fact(Kind.TOOL, "2026-11-23T10:00:10", tool_calls=1, tool_accepted=1, tool_rejected=0),
    )
    out = read(conn, "2026-11-23", "2026-11-23")
    assert [(r["agent"], r["model"], r["requests"], r["tool_calls"]) for r in out["by_model"]] == [
        ("claude-code", "claude-opus-4-8", 1, 1),
    ]


def test_a_tool_before_its_sessions_first_call_is_filed_under_that_call(conn: Any) -> None:
    # the tool (09:59:50) has no call at or before it: it takes the first call after it
    store(
        conn,
        fact(Kind.TOOL, "2026-11-23T09:59:50", tool_calls=1, tool_accepted=1, tool_rejected=0),
        call("2026-11-23T10:00:00", model="claude-opus-4-8", input_tokens=3),
    )
    out = read(conn, "2026-11-23", "2026-11-23")
    assert [(r["agent"], r["model"], r["requests"], r["tool_calls"]) for r in out["by_model"]] == [
        ("claude-code", "claude-opus-4-8", 1, 1),
    ]


def test_only_a_session_without_a_model_call_has_a_null_model_row(conn: Any) -> None:
    # session "tools-only" made no call: its tool is the agent's null-model row
    store(
        conn,
        fact(Kind.TOOL, "2026-11-23T09:59:50", session="tools-only", tool_calls=1),
        call("2026-11-23T10:00:00", model="claude-opus-4-8", input_tokens=3),
    )
    out = read(conn, "2026-11-23", "2026-11-23")
    assert [(r["model"], r["sessions"], r["requests"], r["tool_calls"]) for r in out["by_model"]] == [
        (None, 1, None, 1),
        ("claude-opus-4-8", 1, 1, None),
    ]


def test_a_cost_sum_is_rounded_not_drifting(conn: Any) -> None:
    # 0.1 + 0.2 in binary floating point is 0.30000000000000004; the summary says 0.3
    store(conn, call("2026-11-23T10:00:00", cost_usd=0.1), call("2026-11-23T10:01:00", cost_usd=0.2))
    assert read(conn, "2026-11-23", "2026-11-23")["totals"]["cost_usd"] == 0.3
