"""`agentwatch serve` through the installed entry point: the flags it refuses (with its own
usage, in words rather than internal names) and the database files it refuses before
taking the lock next to them. (The listener itself: tests/test_serve_*.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_run import agentwatch, foreign_sqlite, usage_error
from support.listener import start_listener

EPHEMERAL = ("--http-port", "0", "--grpc-port", "0")


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--http-port", "http", "argument --http-port: 'http' is not a port number (0-65535; 0 = any free port)"),
        ("--grpc-port", "70000", "argument --grpc-port: a port is 0-65535 (0 = any free port), not 70000"),
    ],
)
def test_a_bad_port_is_named_without_internal_names(tmp_path: Path, flag: str, value: str, message: str) -> None:
    out = agentwatch(tmp_path, "serve", flag, value, "--db", str(tmp_path / "a.db"))
    assert usage_error(out, "serve") == message
    assert "_port" not in out.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["directory", "text", "foreign sqlite"])
def test_serve_refuses_a_file_that_is_not_an_agentwatch_database_and_leaves_no_lock(tmp_path: Path, kind: str) -> None:
    db = tmp_path / "target.db"
    if kind == "directory":
        db.mkdir()
    elif kind == "text":
        db.write_text("my notes\n")
    else:
        foreign_sqlite(db)
    before = db.read_bytes() if db.is_file() else None
    out = agentwatch(tmp_path, "serve", *EPHEMERAL, "--db", str(db))
    assert out.returncode == 1
    assert f"agentwatch: {db} is " in out.stderr
    assert ("is a directory" if kind == "directory" else "not an agentwatch database") in out.stderr
    assert "disk I/O error" not in out.stderr
    assert (db.read_bytes() if db.is_file() else None) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target.db"]  # no target.db.lock


def test_serve_makes_a_0_byte_file_its_database(tmp_path: Path) -> None:
    # `touch agentwatch.db` then serve: the one case where an empty file is fine.
    db = tmp_path / "agentwatch.db"
    db.write_bytes(b"")
    srv = start_listener(db)
    srv.stop()
    status = agentwatch(tmp_path, "status", "--db", str(db))
    assert status.returncode == 0, status.stdout
    assert "No telemetry received yet." in status.stdout
