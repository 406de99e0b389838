"""The read side of the store for every surface: per-thread read-only connections.

A surface (the CLI, a TUI polling every 250 ms from thread workers) holds one
Reader. Each thread gets its own read-only connection (SQLite connections are
not for sharing between threads mid-statement; datasette keeps one per thread
too), so concurrent workers never wait on each other. Every query of an answer
runs inside `snapshot()`, one read transaction, so it sees one commit even while
`agentwatch serve` keeps writing. `changed()` asks SQLite's `data_version` on a
connection of its own whether another connection (the writer) committed since the
last look: a poll that costs one pragma, no table read.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Callable, Concatenate, Iterator, ParamSpec, TypeVar

from agentwatch.store.connect import SCHEMA_VERSION, StoreError, open_reader

P = ParamSpec("P")
T = TypeVar("T")


def _checked(db: Path) -> sqlite3.Connection:
    """A read-only connection to a store that has the normalised tables."""
    conn = open_reader(db)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot read {db}: {exc}") from exc
    # Only the writer migrates: a store it has not upgraded yet lacks what the queries read.
    if version < SCHEMA_VERSION:
        conn.close()
        raise StoreError(f"{db} is from an older agentwatch: run `agentwatch serve` once to upgrade it")
    if version > SCHEMA_VERSION:
        conn.close()
        raise StoreError(f"{db} was written by a newer agentwatch (schema {version}, this one reads {SCHEMA_VERSION}): upgrade agentwatch")
    return conn


class Reader:
    """Read-only access to one store, safe to share between threads.

    Opening checks the store (StoreError if it is missing, not readable or from an
    older agentwatch) and takes the baseline `changed()` compares against.
    """

    def __init__(self, db: Path) -> None:
        self.db = db
        self._local = threading.local()
        self._lock = threading.Lock()  # guards _conns and the watch connection
        self._conns: dict[threading.Thread, sqlite3.Connection] = {}
        self._watch = _checked(db)
        self._version = self._data_version()
        self._closed = False

    # -- connections ---------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise StoreError(f"the reader of {self.db} is closed")
        conn = _checked(self.db)
        with self._lock:
            self._close_dead_threads()
            self._conns[threading.current_thread()] = conn
        self._local.conn = conn
        return conn

    def _close_dead_threads(self) -> None:
        # Thread workers come and go (Textual starts one per refresh): a finished
        # thread's connection is closed here, not kept open until the Reader is.
        for thread in [t for t in self._conns if not t.is_alive()]:
            self._conns.pop(thread).close()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection inside one read transaction: every query in the
        block sees the same commit. Nested blocks share the outer transaction."""
        with _read_transaction(self._conn(), self.db) as conn:
            yield conn

    # -- polling -------------------------------------------------------------
    def _data_version(self) -> int:
        try:
            return int(self._watch.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.db}: {exc}") from exc

    def changed(self) -> bool:
        """Whether another connection committed since the last call (or since opening).

        data_version changes only for other connections' commits, which is every commit
        here: the writer is `agentwatch serve`'s connection, never this Reader's.
        """
        with self._lock:
            version = self._data_version()
            changed = version != self._version
            self._version = version
            return changed

    # -- lifetime ------------------------------------------------------------
    def close(self) -> None:
        """Close every thread's connection; call when no thread is reading any more."""
        with self._lock:
            self._closed = True
            for conn in self._conns.values():
                conn.close()
            self._conns.clear()
            self._watch.close()
        self._local = threading.local()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- answers ----------------------------------------------------------------
    def read(self, query: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """One query's answer from one snapshot: `reader.read(summary, period)`,
        `reader.read(feed, cursor)`, `reader.read(series, window)`. Any function of
        query/ that takes the connection first fits; this module imports none of
        them, so a one-shot command loads only the query it runs."""
        with self.snapshot() as conn:
            return query(conn, *args, **kwargs)


@contextlib.contextmanager
def _read_transaction(conn: sqlite3.Connection, db: Path) -> Iterator[sqlite3.Connection]:
    if conn.in_transaction:
        yield conn
        return
    try:
        conn.execute("BEGIN")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read {db}: {exc}") from exc
    try:
        yield conn
    finally:
        if conn.in_transaction:  # an error inside may have ended it already
            conn.execute("COMMIT")  # a read transaction: ends the snapshot, writes nothing


@contextlib.contextmanager
def snapshot(db: Path) -> Iterator[sqlite3.Connection]:
    """One answer's read transaction for a one-shot command: one connection, no Reader
    (which also holds a connection for changed() that a command would not use)."""
    conn = _checked(db)
    try:
        with _read_transaction(conn, db):
            yield conn
    finally:
        conn.close()
