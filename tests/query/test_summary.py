"""query.summary and the `agentwatch summary` CLI.

Part one feeds facts (as adapters build them) through store.facts.insert_facts into
a migrated database and reads query.summary.summary: how figures add up across
agents, models, days and sessions, and which source counts. Part two runs the real
CLI as a subprocess: argument errors, the JSON shape, a database that does not exist,
and a database `agentwatch serve` is writing.

Expected figures are written by hand with their arithmetic.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest

from agentwatch.query.period import period
from agentwatch.query.summary import summary
from agentwatch.records import Fact, Kind
from agentwatch.report.render import summary_json
from agentwatch.store import schema
from agentwatch.store.facts import insert_facts
from support.listener import Listener, start_listener

# The JSON figures M, in issue 4's order, written out rather than imported.
M = [
    "sessions", "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "reasoning_tokens", "cost_usd", "lines_added", "lines_removed",
    "commits", "pull_requests", "tool_calls", "tool_accepted", "tool_rejected",
]  # fmt: skip
S = 10**9


def at(text: str) -> int:
    return int(datetime.fromisoformat(text + "+00:00").timestamp()) * S


def expect(sessions: int, **known: Any) -> dict[str, Any]:
    assert set(known) <= set(M[1:])
    out: dict[str, Any] = {"sessions": sessions, **dict.fromkeys(M[1:]), **known}
    if out["cost_usd"] is not None:
        out["cost_usd"] = pytest.approx(out["cost_usd"])
    return out


def strip(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k in M}


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


# -- part two: the CLI -----------------------------------------------------------------
def run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentwatch", "summary", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2026-11-23", "--since", "2026-11-20"], "give --date, or --since/--until, not both"),
        (["--date", "2026-11-23", "--until", "2026-11-24"], "give --date, or --since/--until, not both"),
        (["--date", "2026-11-23", "--tz", "Mars/Olympus_Mons"], "unknown time zone 'Mars/Olympus_Mons' (use an IANA name such as Europe/Berlin or UTC)"),
        (["--since", "2026-11-24", "--until", "2026-11-23"], "--until 2026-11-23 is before --since 2026-11-24"),
        (["--date", "23.11.2026"], "'23.11.2026' is not a date (YYYY-MM-DD)"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(tmp_path: Path, args: list[str], message: str) -> None:
    db = tmp_path / "none.db"
    for extra in ([], ["--json"]):
        out = run(db, *args, *extra)
        assert out.returncode == 2
        assert out.stdout == ""
        assert out.stderr.strip() == f"agentwatch: {message}"
    assert list(tmp_path.iterdir()) == []


def test_a_missing_database_gives_an_empty_summary_and_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "not" / "there" / "agentwatch.db"
    out = run(db, "--date", "2026-11-23", "--tz", "Asia/Kathmandu", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "period": {"since": "2026-11-23", "until": "2026-11-23", "tz": "Asia/Kathmandu"},
        "totals": expect(0),
        "by_agent": [],
        "by_model": [],
        "by_day": [],
    }
    text = run(db, "--date", "2026-11-23", "--tz", "UTC")
    assert text.returncode == 0 and "Nothing recorded in this period" in text.stdout
    assert list(tmp_path.iterdir()) == []  # not the database, its -wal/-shm/.lock, nor its folder


def test_the_default_period_is_today_in_the_zone(tmp_path: Path) -> None:
    before = datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat()  # +14:00: a day ahead of UTC
    out = run(tmp_path / "none.db", "--tz", "Pacific/Kiritimati", "--json")
    after = datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat()
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)["period"]
    assert got["since"] == got["until"] and got["since"] in (before, after)
    assert got["tz"] == "Pacific/Kiritimati"


def _otlp_json_event(session: str, when_ns: int, input_tokens: int, cost: float, model: str) -> bytes:
    """One Claude api_request event as OTLP/JSON (Claude's http/json protocol)."""
    attrs = {
        "event.name": {"stringValue": "api_request"},
        "session.id": {"stringValue": session},
        "model": {"stringValue": model},
        "input_tokens": {"intValue": str(input_tokens)},
        "output_tokens": {"intValue": "9"},
        "cache_read_tokens": {"intValue": "0"},
        "cache_creation_tokens": {"intValue": "0"},
        "cost_usd": {"doubleValue": cost},
    }
    body = {
        "resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
            "scopeLogs": [{
                "scope": {"name": "com.anthropic.claude_code.events", "version": "2.1.197"},
                "logRecords": [{
                    "timeUnixNano": str(when_ns),
                    "body": {"stringValue": "claude_code.api_request"},
                    "attributes": [{"key": k, "value": v} for k, v in attrs.items()],
                }],
            }],
        }]
    }  # fmt: skip
    return json.dumps(body).encode()


def _post_json(listener: Listener, body: bytes) -> None:
    request = urllib.request.Request(
        f"{listener.http_url}/v1/logs", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 200


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Listener]:
    srv = start_listener(tmp_path / "agentwatch.db")
    yield srv
    srv.stop()


def test_the_json_shape_while_serve_holds_the_database(served: Listener) -> None:
    # Two calls of one session on the 23rd (UTC): opus input 100 cost 0.01, haiku input 20 cost 0.002.
    #   totals: sessions 1, requests 2, errors 0, input 120, output 9 + 9 = 18, cache 0/0, cost 0.012
    _post_json(served, _otlp_json_event("s1", at("2026-11-23T10:00:00"), 100, 0.01, "claude-opus-4-8"))
    _post_json(served, _otlp_json_event("s1", at("2026-11-23T10:05:00"), 20, 0.002, "claude-haiku-4-5"))
    out = run(served.db, "--since", "2026-11-23", "--until", "2026-11-23", "--tz", "UTC", "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    # Exact keys, in order.
    assert list(got) == ["period", "totals", "by_agent", "by_model", "by_day"]
    assert list(got["period"]) == ["since", "until", "tz"]
    assert list(got["totals"]) == M
    assert [list(r) for r in got["by_agent"]] == [["agent", *M]]
    assert [list(r) for r in got["by_model"]] == [["agent", "model", *M]] * 2
    assert [list(r) for r in got["by_day"]] == [["date", *M]]
    # Types: integers, cost a JSON number, null where unknown.
    calls = dict(requests=2, errors=0, input_tokens=120, output_tokens=18, cache_read_tokens=0, cache_write_tokens=0)
    assert got["totals"] == expect(1, **calls, cost_usd=0.012)
    assert all(isinstance(got["totals"][k], int) for k in calls)
    assert isinstance(got["totals"]["cost_usd"], float)
    assert got["by_agent"][0]["agent"] == "claude-code"
    assert [(r["model"], r["input_tokens"]) for r in got["by_model"]] == [("claude-haiku-4-5", 20), ("claude-opus-4-8", 100)]
    assert got["by_day"][0]["date"] == "2026-11-23"
    # --date D is the same as --since D --until D
    same = run(served.db, "--date", "2026-11-23", "--tz", "UTC", "--json")
    assert json.loads(same.stdout) == got


@pytest.mark.parametrize("by", ["agent", "model", "day"])
def test_the_text_table_while_serve_holds_the_database(served: Listener, by: str) -> None:
    _post_json(served, _otlp_json_event("s1", at("2026-11-23T10:00:00"), 100, 0.01, "claude-opus-4-8"))
    out = run(served.db, "--date", "2026-11-23", "--tz", "UTC", "--by", by)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "agentwatch summary · 2026-11-23 (UTC)"
    label = {"agent": "claude-code", "model": "claude-opus-4-8", "day": "2026-11-23"}[by]
    assert any(label in line and "100" in line for line in lines)
    assert any(line.startswith("TOTAL") for line in lines)
