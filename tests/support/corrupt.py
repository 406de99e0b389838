"""Damage a copy of a real database where SQLite's quick_check will notice."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

GARBAGE_BYTES = 512
TABLE_INTERIOR = 0x05
TABLE_LEAF = 0x0D


def _page_size(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    try:
        return conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()


def first_leaf_page(db: Path, table: str = "log_records") -> int:
    """A full leaf page of `table`: the first child of its interior root page.

    Garbage in the unused middle of a page goes unnoticed, so aim at a page
    packed with cells (an interior root keeps its few cells at the page's end).
    """
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    finally:
        conn.close()
    page = db.read_bytes()[(root - 1) * page_size : root * page_size]
    assert page[0] == TABLE_INTERIOR, f"{table} should span several pages"
    first_cell = int.from_bytes(page[12:14], "big")  # first entry of the cell pointer array
    return int.from_bytes(page[first_cell : first_cell + 4], "big")  # its left child


def corrupt_copy(source: Path, target: Path, seed: int = 29) -> None:
    """Copy source (a cleanly closed db) and overwrite the middle of a full leaf page."""
    shutil.copyfile(source, target)
    page_size = _page_size(target)
    leaf = first_leaf_page(target)
    data = bytearray(target.read_bytes())
    start = (leaf - 1) * page_size
    assert data[start] == TABLE_LEAF, "expected a table leaf page"
    middle = start + page_size // 2
    rng = random.Random(seed)
    data[middle - GARBAGE_BYTES // 2 : middle + GARBAGE_BYTES // 2] = bytes(
        rng.randrange(256) for _ in range(GARBAGE_BYTES)
    )
    target.write_bytes(bytes(data))


def quick_check_of(db: Path) -> str:
    """SQLite's verdict on a file, read without touching it (immutable)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    try:
        return conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.close()


def served_and_damaged(folder: Path) -> tuple[Path, Path]:
    """(good, bad): a database a real listener filled and closed, and a copy damaged where
    quick_check notices (600 records: log_records spans a root and ~24 full leaves)."""
    from support.listener import start_listener  # here: the damage helpers need no listener
    from support.tagged import log_body, new_run, post

    good, bad = folder / "good.db", folder / "bad.db"
    srv = start_listener(good)
    run = new_run()
    for req in range(30):
        assert post(srv.http_port, "/v1/logs", log_body(run, req))[0] == 200
    assert srv.stop() == 0
    corrupt_copy(good, bad)
    return good, bad
