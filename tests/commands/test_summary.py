"""`agentwatch summary` through the installed entry point: argument errors with the
subcommand's usage, --db checks, zones by any case, and the JSON and table while
`agentwatch serve` writes the database.

Expected figures are written by hand with their arithmetic.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest

from cli_run import agentwatch, empty_store, foreign_sqlite, usage_error
from support.figures import M, at, expect
from support.listener import Listener, start_listener


def run(db: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return agentwatch(db.parent, "summary", *args, "--db", str(db), **env)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2026-11-23", "--since", "2026-11-20"], "give --date, or --since/--until, not both"),
        (["--date", "2026-11-23", "--until", "2026-11-24"], "give --date, or --since/--until, not both"),
        (["--date", "2026-11-23", "--tz", "Mars/Olympus_Mons"], "unknown time zone 'Mars/Olympus_Mons' (use an IANA name such as Europe/Berlin or UTC)"),
        (["--since", "2026-11-24", "--until", "2026-11-23"], "--until 2026-11-23 is before --since 2026-11-24"),
        (["--date", "23.11.2026"], "'23.11.2026' is not a date (YYYY-MM-DD or YYYYMMDD)"),
        (["--date", "2026-W48-1"], "'2026-W48-1' is not a date (YYYY-MM-DD or YYYYMMDD)"),  # fromisoformat takes it; the help does not
        (["--by", "week"], "argument --by: invalid choice: 'week' (choose from 'agent', 'model', 'day')"),
    ],
)
def test_bad_arguments_exit_2_with_the_summary_usage_and_a_clear_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    db = tmp_path / "none.db"
    for extra in ([], ["--json"]):
        assert usage_error(run(db, *args, *extra), "summary") == message
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_since_after_today_blames_since_not_an_until_never_given(tmp_path: Path) -> None:
    db = empty_store(tmp_path / "agentwatch.db")
    today = datetime.now(ZoneInfo("UTC")).date().isoformat()
    message = usage_error(run(db, "--since", "2999-01-01", "--tz", "UTC"), "summary")
    assert message == f"--since 2999-01-01 is after today ({today})"
    assert "--until" not in message


def test_until_alone_and_compact_dates_are_accepted_as_the_synopsis_says(tmp_path: Path) -> None:
    db = empty_store(tmp_path / "agentwatch.db")
    alone = run(db, "--until", "20261123", "--tz", "UTC", "--json")
    assert alone.returncode == 0, alone.stderr
    # --until alone is one day: --since defaults to the --until day.
    assert json.loads(alone.stdout)["period"] == {"since": "2026-11-23", "until": "2026-11-23", "tz": "UTC"}


def test_a_missing_database_says_so_exits_1_and_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "not" / "there" / "agentwatch.db"
    for extra in ([], ["--json"]):
        out = run(db, "--date", "2026-11-23", "--tz", "UTC", *extra)
        assert out.returncode == 1
        assert out.stdout == ""
        assert out.stderr.strip() == (
            f"agentwatch: no database at {db} (`agentwatch serve` creates it; or pass --db with another file)"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # not the database, its -wal/-shm/.lock, nor its folder


def test_the_default_database_is_the_users_and_missing_is_named(tmp_path: Path) -> None:
    out = agentwatch(tmp_path, "summary")
    expected = tmp_path / ".local" / "share" / "agentwatch" / "agentwatch.db"  # XDG_DATA_HOME/agentwatch
    assert (out.returncode, out.stderr.split(" (")[0]) == (1, f"agentwatch: no database at {expected}")
    assert not (tmp_path / ".local").exists()


def test_a_directory_is_named_as_a_directory(tmp_path: Path) -> None:
    out = run(tmp_path, "--date", "2026-11-23")  # --db is tmp_path itself
    assert out.returncode == 1
    assert out.stderr.strip() == f"agentwatch: {tmp_path} is a directory, not a database file (pass --db with the path of a file)"


@pytest.mark.parametrize(("version", "said"), [
    (3, "is from an older agentwatch: run `agentwatch serve` once to upgrade it"),  # upgraded, not yet served
    (99, "was written by a newer agentwatch (schema 99, this one reads 4): upgrade agentwatch"),
])  # fmt: skip
@pytest.mark.parametrize("command", ["summary", "sessions"])
def test_a_store_of_another_schema_version_is_named_not_a_traceback(
    tmp_path: Path, version: int, said: str, command: str
) -> None:
    # The queries read the columns of schema 4; only `serve` (the writer) migrates.
    db = empty_store(tmp_path / "agentwatch.db")
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {version}")
    out = agentwatch(tmp_path, command, "--db", str(db))
    assert (out.returncode, out.stderr.strip()) == (1, f"agentwatch: {db} {said}")


@pytest.mark.parametrize("kind", ["empty", "text", "foreign sqlite"])
def test_a_file_that_is_not_an_agentwatch_database_is_named_and_left_alone(tmp_path: Path, kind: str) -> None:
    db = tmp_path / "other.db"
    if kind == "foreign sqlite":
        foreign_sqlite(db)
    else:
        db.write_text("" if kind == "empty" else "hello, not a database\n")
    before = db.read_bytes()
    out = run(db, "--date", "2026-11-23")
    assert out.returncode == 1
    assert out.stderr.startswith(f"agentwatch: {db} is ")
    assert "not an agentwatch database" in out.stderr
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no .lock, -wal or -shm beside it


@pytest.mark.parametrize(("typed", "name"), [("utc", "UTC"), ("europe/paris", "Europe/Paris"), ("ASIA/TOKYO", "Asia/Tokyo")])
def test_tz_takes_any_iana_name_in_any_case_and_reports_its_own_spelling(tmp_path: Path, typed: str, name: str) -> None:
    db = empty_store(tmp_path / "agentwatch.db")
    out = run(db, "--date", "2026-11-23", "--tz", typed, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["period"]["tz"] == name


@pytest.mark.parametrize(
    ("tz_env", "name"),
    [
        ("Asia/Tokyo", "Asia/Tokyo"),  # Python's own local zone would call it "JST"
        (":Europe/Berlin", "Europe/Berlin"),  # the C library's leading colon
        ("/usr/share/zoneinfo/America/New_York", "America/New_York"),
        ("JST-9", "Etc/GMT-9"),  # POSIX fixed offset: 9 hours east of UTC
        ("", "UTC"),  # set but empty: the C library's UTC
    ],
)
def test_the_json_tz_from_the_tz_variable_is_a_name_tz_accepts_back(tmp_path: Path, tz_env: str, name: str) -> None:
    db = empty_store(tmp_path / "agentwatch.db")
    out = run(db, "--date", "2026-11-23", "--json", TZ=tz_env)
    assert out.returncode == 0, out.stderr
    reported = json.loads(out.stdout)["period"]["tz"]
    assert reported == name
    back = run(db, "--date", "2026-11-23", "--json", "--tz", reported)
    assert back.returncode == 0 and json.loads(back.stdout)["period"]["tz"] == name


def test_a_tz_variable_that_names_no_zone_is_an_error_not_utc(tmp_path: Path) -> None:
    db = empty_store(tmp_path / "agentwatch.db")
    assert usage_error(run(db, "--date", "2026-11-23", TZ="garbage"), "summary") == (
        "the TZ environment variable ('garbage') is not a time zone; set it to an IANA name such as Europe/Berlin, or unset it"
    )
    # --tz wins over a bad TZ: the variable is only read for the default.
    assert run(db, "--date", "2026-11-23", "--tz", "UTC", TZ="garbage").returncode == 0


def test_the_default_period_is_today_in_the_zone(tmp_path: Path) -> None:
    db = empty_store(tmp_path / "agentwatch.db")
    before = datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat()  # +14:00: a day ahead of UTC
    out = run(db, "--tz", "Pacific/Kiritimati", "--json")
    after = datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat()
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)["period"]
    assert got["since"] == got["until"] and got["since"] in (before, after)
    assert got["tz"] == "Pacific/Kiritimati"


def test_an_empty_period_names_the_running_listeners_port(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    srv = start_listener(db)  # ephemeral ports: never 4318
    try:
        text = run(db, "--date", "2026-11-23", "--tz", "UTC")
    finally:
        srv.stop()
    assert text.returncode == 0, text.stderr
    assert "Nothing recorded in this period." in text.stdout
    assert f"  export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:{srv.http_port}" in text.stdout.splitlines()
    assert "4318" not in text.stdout
    stopped = run(db, "--date", "2026-11-23", "--tz", "UTC")
    assert "No `agentwatch serve` is running on this database" in stopped.stdout
    assert "  export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318" in stopped.stdout.splitlines()


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
