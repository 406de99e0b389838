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
MIGRATION_SET = "agentwatch"  # schema.py's migrations record themselves under this name
# How many migrations store/schema.py has (it checks so at import): here, so a reader can
# tell a store it cannot read yet without loading the migrations (and sqlite_utils).
SCHEMA_VERSION = 4
SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


def _create_private(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)


def _check_file(path: Path, create: bool) -> bool:
    """What the file alone shows: StoreError if it cannot be ours; False if it is still to be made.

    Only serve (create) may start from nothing: a missing or 0-byte file is where it
    creates the store. Everyone else needs a store that exists.
    """
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a database file (pass --db with the path of a file)")
    try:
        size = path.stat().st_size
    except (FileNotFoundError, NotADirectoryError):
        if create:
            return False
        raise StoreError(f"no database at {path} (`agentwatch serve` creates it; or pass --db with another file)") from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    if size == 0:
        if create:
            return False
        raise StoreError(f"{path} is empty, not an agentwatch database (`agentwatch serve` makes it one)")
    try:
        with open(path, "rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    if header != SQLITE_HEADER:
        raise StoreError(f"{path} is not an agentwatch database (not an SQLite file); agentwatch leaves it as it is")
    return True


def _check_schema(conn: sqlite3.Connection, path: Path, create: bool) -> None:
    """StoreError unless the SQLite file holds agentwatch's schema (or, for serve, nothing yet)."""
    try:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        ours = "_sqlite_migrations" in names and conn.execute(
            "SELECT 1 FROM _sqlite_migrations WHERE migration_set = ? LIMIT 1", (MIGRATION_SET,)
        ).fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc
    if ours:
        return
    if not names:  # SQLite's header and nothing else: a serve stopped before its first migration
        if create:
            return
        raise StoreError(f"{path} is empty, not an agentwatch database (`agentwatch serve` makes it one)")
    raise StoreError(
        f"{path} is not an agentwatch database (an SQLite file with other tables); agentwatch leaves "
        "it as it is: pass --db with another file"
    )


def check_database(path: Path, *, create: bool = False) -> None:
    """StoreError unless path is an agentwatch store, or (create: serve) may become one.

    Read-only and creates nothing, so a command can refuse a file before it takes
    the lock next to it or opens it for writing.
    """
    if _check_file(path, create):
        conn = _connect_reader(path)
        try:
            _check_schema(conn, path, create)
        finally:
            conn.close()


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
        _check_schema(conn, path, create=True)  # another program's database is never adopted
    except StoreError:
        conn.close()
        raise
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


def _connect_reader(path: Path) -> sqlite3.Connection:
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path} for reading: {exc}") from exc
    return conn


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection to an agentwatch store; never creates the file."""
    _check_file(path, create=False)
    conn = _connect_reader(path)
    try:
        _check_schema(conn, path, create=False)
    except StoreError:
        conn.close()
        raise
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
