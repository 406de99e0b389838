"""`agentwatch reindex`: the same figures again from the stored rows, all or nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agentwatch.reindex import reindex, reindex_db
from agentwatch.store.lock import read_listener
from agentwatch.store.connect import open_writer
from support.accounting import summary_json
from support.listener import start_listener
from support.replay import FIXTURES, replay

SCENARIOS = ("claude-code/http_protobuf_delta", "claude-code/http_json_cumulative")


def _loaded(tmp_path: Path) -> Path:
    db = tmp_path / "agentwatch.db"
    listener = start_listener(db)
    try:
        for scenario in SCENARIOS:
            replay(FIXTURES / scenario, listener.http_port, listener.grpc_port)
    finally:
        listener.stop()
    return db


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentwatch", "reindex", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_reindex_gives_the_same_figures_as_ingest(tmp_path: Path) -> None:
    db = _loaded(tmp_path)
    before = summary_json(db)
    assert before["totals"]["requests"] == 2 * 4  # two Claude turns of 4 calls

    done = _cli(db)
    assert done.returncode == 0, done.stderr
    assert "reindexed" in done.stdout
    assert summary_json(db) == before


def test_reindex_rebuilds_facts_that_were_lost(tmp_path: Path) -> None:
    # As after an adapter fix: the derived tables are wrong or empty, the rows are intact.
    db = _loaded(tmp_path)
    before = summary_json(db)
    conn = sqlite3.connect(db)
    conn.executescript("DELETE FROM facts; DELETE FROM rollups; DELETE FROM sessions;")
    conn.close()
    assert summary_json(db)["totals"]["requests"] is None

    assert _cli(db).returncode == 0
    assert summary_json(db) == before


def test_an_interrupted_reindex_leaves_the_previous_figures(tmp_path: Path) -> None:
    db = _loaded(tmp_path)
    before = summary_json(db)

    def interrupt(done: int, total: int) -> None:
        if done == total // 2:
            raise KeyboardInterrupt

    conn = open_writer(db)
    with pytest.raises(KeyboardInterrupt):
        reindex(conn, interrupt)
    assert not conn.in_transaction
    conn.close()
    assert summary_json(db) == before


def test_reindex_interrupted_on_the_writer_thread_rolls_back_and_releases_the_lock(tmp_path: Path) -> None:
    # reindex_db runs the rebuild on the same writer serve uses; Ctrl-C must still undo it all.
    db = _loaded(tmp_path)
    before = summary_json(db)

    def interrupt(done: int, total: int) -> None:
        if done == total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reindex_db(db, interrupt)
    assert read_listener(db) is None  # the lock is free again
    assert summary_json(db) == before
    assert reindex_db(db).batches > 0
    assert summary_json(db) == before


def test_reindex_refuses_while_serve_holds_the_database(tmp_path: Path) -> None:
    db = _loaded(tmp_path)
    listener = start_listener(db)
    try:
        done = _cli(db)
    finally:
        listener.stop()
    assert done.returncode == 1
    assert "already using" in done.stderr


def test_reindex_of_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    done = _cli(tmp_path / "none.db")
    assert done.returncode == 1
    assert not (tmp_path / "none.db").exists()


def test_facts_whose_rows_were_pruned_are_kept(tmp_path: Path) -> None:
    # Retention deletes whole batches, oldest first; their facts cannot be derived again.
    db = _loaded(tmp_path)
    before = summary_json(db)
    conn = sqlite3.connect(db)
    first_scenario = [b for (b,) in conn.execute("SELECT id FROM batches ORDER BY id LIMIT 3")]
    marks = ",".join("?" * len(first_scenario))
    for table in ("log_records", "metric_points", "spans", "batches"):
        column = "id" if table == "batches" else "batch_id"
        conn.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", first_scenario)
    conn.commit()
    conn.close()

    done = _cli(db)
    assert done.returncode == 0, done.stderr
    assert "kept as they were" in done.stdout
    assert summary_json(db) == before


def _as_left_by_version_1(db: Path) -> None:
    """The database as agentwatch 0.1 left it: raw rows only, schema version 1."""
    conn = sqlite3.connect(db)
    objects = conn.execute(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view', 'trigger') AND name IN "
        "('sessions', 'facts', 'rollups', 'session_rollups', 'presence', 'series', 'trace_sessions', 'pruning', "
        "'facts_changed', 'facts_removed', 'model_requests', 'tool_calls', 'code_output')"
    ).fetchall()
    for kind, name in objects:
        if kind != "table":
            conn.execute(f"DROP {kind} {name}")
    for kind, name in objects:
        if kind == "table":
            conn.execute(f"DROP TABLE {name}")
    for table in ("log_records", "metric_points", "spans"):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN agent")  # m004's
    conn.execute("DELETE FROM _sqlite_migrations WHERE name != 'm001_raw_rows'")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_serve_derives_the_figures_of_rows_stored_by_version_1_once(tmp_path: Path) -> None:
    db = _loaded(tmp_path)
    before = summary_json(db)
    _as_left_by_version_1(db)

    listener = start_listener(db)  # migrates to version 2 and derives the stored rows' figures
    try:
        assert summary_json(db) == before
    finally:
        listener.stop()
    assert "deriving sessions and figures" in listener.stderr()
