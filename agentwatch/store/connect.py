"""The only places that open SQLite connections.

One writer connection (WAL, synchronous=FULL, autocommit so every transaction
is an explicit BEGIN IMMEDIATE) and any number of read-only readers that can
never write or checkpoint — the WAL-reset bug in SQLite < 3.51.3 needs two
connections writing or checkpointing at once, and this layout rules that out.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path

BUSY_TIMEOUT_MS = 2000  # well inside the exporters' 10 s deadline (RELIABILITY P7)
FILE_MODE = 0o600


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


def _create_private(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)


def open_writer(path: Path) -> sqlite3.Connection:
    """The write connection, after quick_check passed (RELIABILITY D9).

    The check comes first: switching the journal mode writes to the file, and a
    damaged file must be left exactly as it was found.
    """
    try:
        _create_private(path)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open {path} for writing: {exc}") from exc
    problem = quick_check(conn)
    if problem is not None:
        conn.close()
        raise StoreError(
            f"{path} failed SQLite's quick_check ({problem}). agentwatch will not write "
            "to it. Keep the file for recovery (`sqlite3 FILE .recover`), or move it aside "
            "to start a new one."
        )
    try:
        if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
            # Must precede the first table; lets retention hand pages back to the OS.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot open {path} for writing: {exc}") from exc
    if mode.lower() != "wal":
        raise StoreError(f"{path}: could not switch to WAL mode (got {mode})")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection; never creates the file."""
    if not path.exists():
        raise StoreError(f"no database at {path} (start `agentwatch serve` first)")
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path} for reading: {exc}") from exc
    return conn


def quick_check(conn: sqlite3.Connection) -> str | None:
    """None when the file is sound, else SQLite's first complaint."""
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    first = rows[0][0] if rows else "no result"
    return None if first == "ok" else first


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:3])


def wal_reset_bug_affected(version: str) -> bool:
    """True for SQLite 3.7.0–3.51.2 unless it is a fixed backport (3.44.6+, 3.50.7+)."""
    v = _version_tuple(version)
    if v < (3, 7, 0) or v >= (3, 51, 3):
        return False
    if v[:2] == (3, 44) and v >= (3, 44, 6):
        return False
    if v[:2] == (3, 50) and v >= (3, 50, 7):
        return False
    return True


def db_bytes(path: Path) -> int:
    """Size on disk including the write-ahead log."""
    total = 0
    for suffix in ("", "-wal"):
        try:
            total += os.path.getsize(f"{path}{suffix}")
        except OSError:
            pass
    return total
