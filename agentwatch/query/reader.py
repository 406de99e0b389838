"""Opening the store for a read-only surface, one snapshot per answer."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Iterator

from agentwatch.store.connect import StoreError, open_reader


@contextlib.contextmanager
def snapshot(db: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection inside one read transaction, so every query of an answer
    sees the same commit even while `agentwatch serve` keeps writing."""
    conn = open_reader(db)
    try:
        try:
            conn.execute("BEGIN")
            has_facts = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'rollups'").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {db}: {exc}") from exc
        if not has_facts:
            raise StoreError(f"{db} is from an older agentwatch: run `agentwatch serve` once to upgrade it")
        yield conn
    finally:
        conn.close()
