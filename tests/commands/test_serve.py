"""`agentwatch serve` through the installed entry point: the flags it refuses (with its own
usage, in words rather than internal names) and the database files it refuses before
taking the lock next to them; the flags become settings with 0 meaning "no limit".
(The listener itself: tests/test_serve_*.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentwatch.cli import build_parser
from agentwatch.commands.serve import settings as serve_settings
from agentwatch.config import RetentionPolicy
from cli_run import agentwatch, foreign_sqlite, usage_error
from support.corrupt import quick_check_of, served_and_damaged
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


def test_a_serve_that_stops_leaves_no_lock_file(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    srv = start_listener(db)
    assert (tmp_path / "agentwatch.db.lock").exists()  # held while it runs: status reads its ports there
    assert srv.stop() == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agentwatch.db"]


def test_a_damaged_database_refused_by_quick_check_gets_no_lock_file(tmp_path: Path) -> None:
    _, bad = served_and_damaged(tmp_path)
    assert quick_check_of(bad) != "ok"  # the premise
    out = agentwatch(tmp_path, "serve", *EPHEMERAL, "--db", str(bad))
    assert out.returncode == 1 and "quick_check" in out.stderr
    assert not (tmp_path / "bad.db.lock").exists()  # the lock was taken, then removed with the refusal


MIB = 1024 * 1024

REFUSED = [
    ("--retain-days", "-1", "argument --retain-days: days are 0 (keep forever) to 36500, not -1"),
    ("--retain-days", "nan", "argument --retain-days: 'nan' is not a finite number"),
    ("--retain-days", "inf", "argument --retain-days: 'inf' is not a finite number"),
    ("--retain-days", "1e9", "argument --retain-days: days are 0 (keep forever) to 36500, not 1e9"),
    ("--retain-mib", "-1", "argument --retain-mib: the size is 0 (no limit) to 16777216 MiB, not -1"),
    ("--retain-mib", "NaN", "argument --retain-mib: 'NaN' is not a finite number"),
    ("--max-body-mib", "0", "argument --max-body-mib: the size limit is more than 0 and at most 1024 MiB, not 0"),
    ("--max-body-mib", "-4", "argument --max-body-mib: the size limit is more than 0 and at most 1024 MiB, not -4"),
    ("--max-body-mib", "2048", "argument --max-body-mib: the size limit is more than 0 and at most 1024 MiB, not 2048"),
    ("--max-body-mib", "lots", "argument --max-body-mib: 'lots' is not a number"),
    ("--workers", "-3", "argument --workers: workers are 0 (build rows in the listener's own process) to 8, not -3"),
    ("--workers", "9", "argument --workers: workers are 0 (build rows in the listener's own process) to 8, not 9"),
    ("--workers", "1.5", "argument --workers: '1.5' is not a whole number"),
]


@pytest.mark.parametrize(("flag", "value", "message"), REFUSED, ids=[f"{f} {v}" for f, v, _ in REFUSED])
def test_serve_refuses_a_number_out_of_range_with_exit_code_2(
    tmp_path: Path, flag: str, value: str, message: str
) -> None:
    # Ephemeral ports and a timeout: were the value accepted, serve would start and wait.
    result = subprocess.run(
        [sys.executable, "-m", "agentwatch", "serve", flag, value,
         "--http-port", "0", "--grpc-port", "0", "--db", str(tmp_path / "agentwatch.db")],
        capture_output=True, text=True, timeout=20,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"agentwatch serve: error: {message}"
    assert list(tmp_path.iterdir()) == []  # refused before anything was opened


def test_zero_retention_means_keep_everything_and_the_limits_are_inclusive(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["serve", "--retain-days", "0", "--retain-mib", "0", "--max-body-mib", "1024", "--workers", "8"]
    )
    settings = serve_settings(args)
    assert settings.retention == RetentionPolicy(max_age_days=None, max_bytes=None)
    assert (settings.max_body, settings.workers) == (1024 * MIB, 8)


def test_a_tiny_positive_size_limit_is_still_at_least_one_byte(tmp_path: Path) -> None:
    args = build_parser().parse_args(["serve", "--max-body-mib", "1e-9", "--retain-mib", "1e-9"])
    settings = serve_settings(args)
    assert (settings.max_body, settings.retention.max_bytes) == (1, 1)


def test_serve_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    settings = serve_settings(build_parser().parse_args(["serve", "--db", str(tmp_path / "agentwatch.db")]))
    assert (settings.http_port, settings.grpc_port, settings.max_body) == (4318, 4317, 16 * MIB)
    assert settings.retention == RetentionPolicy(max_age_days=30.0, max_bytes=2048 * MIB)
    assert settings.hosts == ("127.0.0.1", "::1")
