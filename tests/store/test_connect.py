"""Opening the store: the writer's settings, readers that cannot write, the WAL-reset check (T30)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agentwatch.store import schema
from agentwatch.store.connect import (
    BUSY_TIMEOUT_MS,
    StoreError,
    db_bytes,
    open_reader,
    open_writer,
    quick_check,
    wal_reset_bug_affected,
)
from agentwatch.store.writer import insert_batch

from support.corrupt import corrupt_copy, first_leaf_page
from support.writer_kit import tagged_batch


# -- T30: which SQLite versions have the WAL-reset bug (wal.html#walresetbug) ---------------------
@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("3.40.1", True),  # Debian 12, this machine
        ("3.51.2", True),  # last affected release
        ("3.51.3", False),  # the fix
        ("3.44.5", True),
        ("3.44.6", False),  # backport
        ("3.50.6", True),
        ("3.50.7", False),  # backport
        ("3.6.23", False),  # before WAL existed
        ("3.7.0", True),  # WAL's first release
        ("3.52.0", False),
        ("3.45.0", True),  # the 3.44 backport does not cover later branches
    ],
)
def test_wal_reset_bug_affected_by_release(version: str, affected: bool) -> None:
    assert wal_reset_bug_affected(version) is affected


# -- the writer connection ------------------------------------------------------------------------
def test_the_writer_uses_wal_full_sync_a_busy_timeout_and_autocommit(tmp_path: Path) -> None:
    conn = open_writer(tmp_path / "agentwatch.db")
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL: an ack survives power loss
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (BUSY_TIMEOUT_MS,)
    assert BUSY_TIMEOUT_MS <= 5000  # inside the exporters' 10 s deadline, with room for a retry
    assert conn.isolation_level is None  # every transaction is an explicit BEGIN IMMEDIATE
    conn.close()


def test_opening_a_writer_where_the_folder_is_a_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    with pytest.raises(StoreError, match="cannot open"):
        open_writer(tmp_path / "data" / "agentwatch.db")


# -- readers --------------------------------------------------------------------------------------
def test_a_reader_never_creates_the_database(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    with pytest.raises(StoreError, match="no database"):
        open_reader(db)
    assert list(tmp_path.iterdir()) == []


def test_a_reader_cannot_write(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    writer = open_writer(db)
    schema.migrate(writer)
    reader = open_reader(db)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("INSERT INTO batches VALUES (1, 0, 'logs', 'http', 0, 0)")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("PRAGMA user_version = 7")
    assert writer.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
    reader.close()
    writer.close()


# -- quick_check and size -------------------------------------------------------------------------
def _filled(db: Path, batches: int = 30) -> None:
    conn = open_writer(db)
    schema.migrate(conn)
    conn.execute("BEGIN IMMEDIATE")
    for req in range(batches):
        insert_batch(conn, tagged_batch("q", req))
    conn.execute("COMMIT")
    conn.close()  # the last connection checkpoints: everything is in the main file


def test_quick_check_passes_a_sound_file_and_names_the_damage_in_a_corrupt_one(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.db", tmp_path / "bad.db"
    _filled(good)
    corrupt_copy(good, bad)
    verdicts = {}
    for path in (good, bad):
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        verdicts[path.name] = quick_check(conn)
        conn.close()
    assert verdicts["good.db"] is None
    assert verdicts["bad.db"] is not None
    assert f"page {first_leaf_page(bad)}" in verdicts["bad.db"]  # the page we damaged


def test_db_bytes_counts_the_wal_and_is_zero_for_no_file(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    assert db_bytes(db) == 0
    conn = open_writer(db)
    schema.migrate(conn)
    wal = Path(f"{db}-wal").stat().st_size
    assert wal > 0
    assert db_bytes(db) == db.stat().st_size + wal
    conn.close()


def test_a_damaged_file_in_rollback_journal_mode_is_refused_untouched(tmp_path: Path) -> None:
    # Switching to WAL writes the file header; the check must come before it.
    import hashlib

    from agentwatch.store.connect import StoreError, open_writer
    from support.corrupt import corrupt_copy, quick_check_of

    good = tmp_path / "plain.db"
    conn = sqlite3.connect(good)
    # corrupt_copy aims at a full leaf of a table named log_records.
    conn.execute("CREATE TABLE log_records (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO log_records (v) VALUES (?)", [("x" * 200,) for _ in range(400)])
    conn.commit()
    conn.close()
    bad = tmp_path / "bad.db"
    corrupt_copy(good, bad)
    assert quick_check_of(bad) != "ok"  # the premise
    before = hashlib.sha256(bad.read_bytes()).hexdigest()
    with pytest.raises(StoreError, match="quick_check"):
        open_writer(bad)
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == before
