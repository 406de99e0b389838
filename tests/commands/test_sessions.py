"""`agentwatch sessions` through the installed entry point: wrong input with the sessions
usage, --db checks, zones in any case, and the hint naming the running listener."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import agentwatch, empty_store, foreign_sqlite, usage_error
from support.listener import start_listener


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last week"], "'last week' is not a date (YYYY-MM-DD or YYYYMMDD)"),
        (["--tz", "Nowhere/Special"], "unknown time zone 'Nowhere/Special' (use an IANA name such as Europe/Berlin or UTC)"),
        (["--by", "agent"], "unrecognized arguments: --by agent"),
    ],
)
def test_bad_arguments_exit_2_with_the_sessions_usage(tmp_path: Path, args: list[str], message: str) -> None:
    assert usage_error(agentwatch(tmp_path, "sessions", *args, "--db", str(tmp_path / "none.db")), "sessions") == message
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_missing_database_says_so_and_exits_1(tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    out = agentwatch(tmp_path, "sessions", "--db", str(db))
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr.startswith(f"agentwatch: no database at {db} ")
    assert not db.exists()


def test_a_foreign_sqlite_file_is_named_and_left_alone(tmp_path: Path) -> None:
    db = foreign_sqlite(tmp_path / "notes.db")
    before = db.read_bytes()
    out = agentwatch(tmp_path, "sessions", "--db", str(db))
    assert out.returncode == 1
    assert "is not an agentwatch database" in out.stderr
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_since_in_compact_form_and_a_lower_case_zone_are_accepted(tmp_path: Path) -> None:
    db = empty_store(tmp_path / "agentwatch.db")
    out = agentwatch(tmp_path, "sessions", "--since", "20261101", "--tz", "america/new_york", "--json", "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_no_sessions_names_the_running_listeners_port(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    srv = start_listener(db)
    try:
        out = agentwatch(tmp_path, "sessions", "--since", "2026-11-01", "--db", str(db))
    finally:
        srv.stop()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "No sessions since 2026-11-01."
    assert f"  export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:{srv.http_port}" in lines
