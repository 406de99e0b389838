"""`agentwatch status` through the installed entry point: an unusable --db is an error
(exit 1) with no hint beside it, and the hint names the listener that is running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import agentwatch, foreign_sqlite
from support.listener import start_listener


def _bad(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A --db that is not an agentwatch database, and the error status must print for it."""
    db = tmp_path / "other.db"
    if kind == "directory":
        db.mkdir()
        return db, f"{db} is a directory, not a database file (pass --db with the path of a file)"
    if kind == "empty":
        db.write_bytes(b"")
        return db, f"{db} is empty, not an agentwatch database (`agentwatch serve` makes it one)"
    if kind == "text":
        db.write_text("not a database\n")
        return db, f"{db} is not an agentwatch database (not an SQLite file); agentwatch leaves it as it is"
    foreign_sqlite(db)
    return db, (
        f"{db} is not an agentwatch database (an SQLite file with other tables); agentwatch leaves "
        "it as it is: pass --db with another file"
    )


@pytest.mark.parametrize("kind", ["directory", "empty", "text", "foreign sqlite"])
def test_status_on_an_unusable_database_prints_the_error_not_no_telemetry(tmp_path: Path, kind: str) -> None:
    db, error = _bad(tmp_path, kind)
    text = agentwatch(tmp_path, "status", "--db", str(db))
    assert text.returncode == 1
    assert f"error     {error}" in text.stdout.splitlines()
    assert "No telemetry received yet" not in text.stdout
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in text.stdout
    raw = agentwatch(tmp_path, "status", "--json", "--db", str(db))
    assert raw.returncode == 1
    report = json.loads(raw.stdout)
    assert report["error"] == error
    assert report["agents"] == []
    if kind == "directory":
        assert report["db_bytes"] is None  # a directory's size is not a database's
        assert f"database  {db} (unusable)" in text.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no lock file beside it


def test_no_telemetry_names_the_running_listeners_ports(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    srv = start_listener(db)  # ephemeral ports, never 4318
    try:
        out = agentwatch(tmp_path, "status", "--db", str(db))
    finally:
        srv.stop()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "No telemetry received yet." in lines
    assert f"`agentwatch serve` is running on this database (gRPC: port {srv.grpc_port}); point an agent at it:" in lines
    assert f"  export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:{srv.http_port}" in lines
    assert "4318" not in out.stdout


def test_no_listener_says_start_one_on_the_default_port(tmp_path: Path) -> None:
    db = tmp_path / "never" / "agentwatch.db"
    out = agentwatch(tmp_path, "status", "--db", str(db))
    # A database not created yet is status's normal first answer, not an error.
    assert out.returncode == 0, out.stderr
    assert f"database  {db} (not created yet)" in out.stdout
    assert "No `agentwatch serve` is running on this database. Start it, then point an agent at it:" in out.stdout
    assert "  export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318" in out.stdout.splitlines()
    assert not (tmp_path / "never").exists()


def test_an_unknown_flag_shows_the_status_usage(tmp_path: Path) -> None:
    out = agentwatch(tmp_path, "status", "--jsn")
    assert out.returncode == 2
    assert out.stderr.splitlines()[0].startswith("usage: agentwatch status ")
    assert out.stderr.splitlines()[-1] == "agentwatch status: error: unrecognized arguments: --jsn"
