"""`agentwatch reindex`: derive the normalised facts again from the stored rows.

After an adapter fix, the raw rows still say what every agent sent, so the facts
can be rebuilt: every stored batch, in arrival order, goes through the same
adapters and the same fact writer as live ingest. It all happens in one
transaction, so the figures users see stay the old ones until the new ones are
complete, and an interrupted reindex (Ctrl-C, a crash) leaves them untouched.

Raw rows older than the retention limit are gone, and so is the means to
re-derive their facts: when rows have been pruned, facts before the oldest
stored row are kept as they are and only the later ones are rebuilt. Cumulative
series that began before that point restart from their first stored total as a
baseline, so their earlier increase is not counted a second time.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

from agentwatch.normalise.derive import Derivation
from agentwatch.records import Signal
from agentwatch.measures import BUCKET_NS
from agentwatch.store.facts import insert_facts, insert_presence
from agentwatch.store.lock import InstanceLock
from agentwatch.store.retention import oldest_row_ns
from agentwatch.store.writer import TABLES, Writer

log = logging.getLogger("agentwatch")

_DERIVED = ("rollups", "session_rollups", "sessions", "series", "trace_sessions", "presence")


@dataclass(frozen=True, slots=True)
class Reindexed:
    batches: int
    facts: int
    kept_before_ns: int | None  # facts before this time were kept (their rows were pruned)


def open_store(db: Path, upgrade: bool = True) -> Writer:
    """The one writer on db, checked and migrated: how serve and reindex both open the store.

    With upgrade, rows stored by agentwatch 0.1 (before figures existed) get their
    figures derived, once. Blocking (quick_check, migrations, the derivation): call it
    on a thread from an event loop. The caller holds the instance lock and closes the writer.
    """
    writer = Writer(db)
    writer.start()
    if upgrade and writer.migrated_from == 1:
        try:
            _derive_stored_rows(writer)
        except BaseException:
            writer.close()
            raise
    return writer


def _derive_stored_rows(writer: Writer) -> None:
    log.info("deriving sessions and figures from the rows stored before this version (once)")
    result = writer.call(rebuild).result()
    log.info("derived %d facts from %d stored batches", result.facts, result.batches)


def reindex_db(db: Path, progress: Callable[[int, int], None] | None = None) -> Reindexed:
    """`agentwatch reindex`: lock → open_store → rebuild in one writer transaction → close.

    Ctrl-C stops the rebuild at its next batch and rolls it back, so the previous
    figures stay; the KeyboardInterrupt is raised again for the caller.
    """
    lock = InstanceLock(db)
    lock.acquire()  # the one writer: refuses while `agentwatch serve` runs
    try:
        writer = open_store(db, upgrade=False)  # rebuilding everything anyway
        try:
            return _rebuild_on(writer, progress)
        finally:
            writer.close()
    finally:
        lock.release()


def _rebuild_on(writer: Writer, progress: Callable[[int, int], None] | None) -> Reindexed:
    interrupted = threading.Event()

    def step(done: int, total: int) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt  # on the writer thread: its transaction rolls back
        if progress is not None:
            progress(done, total)

    future = writer.call(lambda conn: rebuild(conn, step))
    try:
        return future.result()
    except KeyboardInterrupt:
        interrupted.set()
        writer.close()  # waits for the rollback
        raise


def reindex(conn: sqlite3.Connection, progress: Callable[[int, int], None] | None = None) -> Reindexed:
    """Rebuild facts, rollups and sessions in one transaction on the writer connection."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = rebuild(conn, progress)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def rebuild(conn: sqlite3.Connection, progress: Callable[[int, int], None] | None = None) -> Reindexed:
    """The work of reindex inside the caller's transaction (serve's upgrade runs it on the writer)."""
    cutoff = _cutoff(conn)
    _clear(conn, cutoff)
    done, facts = _derive_all(conn, cutoff, progress)
    return Reindexed(done, facts, cutoff)


def _cutoff(conn: sqlite3.Connection) -> int | None:
    """None when every row ever stored is still here, else the bucket start of the oldest."""
    first = conn.execute("SELECT min(id) FROM batches").fetchone()[0]
    oldest = oldest_row_ns(conn)
    if first is None or first == 1 or oldest is None:
        return None
    return -(-oldest // BUCKET_NS) * BUCKET_NS  # whole buckets only: a partial one stays as it was


def _clear(conn: sqlite3.Connection, cutoff: int | None) -> None:
    if cutoff is None:
        for table in _DERIVED:
            conn.execute(f"DELETE FROM {table}")
        conn.execute("DELETE FROM facts")
        return
    conn.execute("DELETE FROM facts WHERE time_ns >= ?", (cutoff,))  # its trigger takes them out of rollups
    conn.execute("DELETE FROM presence WHERE bucket >= ?", (cutoff // BUCKET_NS,))
    conn.execute("DELETE FROM series")
    conn.execute("DELETE FROM trace_sessions")


def _derive_all(conn: sqlite3.Connection, cutoff: int | None, progress: Callable[[int, int], None] | None) -> tuple[int, int]:
    batches = conn.execute("SELECT id, signal FROM batches ORDER BY id").fetchall()
    resources = _resources(conn)
    scopes = dict(conn.execute("SELECT key, name FROM scopes").fetchall())
    facts = 0
    for done, (batch_id, signal) in enumerate(batches, 1):
        facts += _derive_batch(conn, batch_id, Signal(signal), resources, scopes, cutoff)
        if progress is not None:
            progress(done, len(batches))
    return len(batches), facts


def _resources(conn: sqlite3.Connection) -> dict[bytes, tuple[str | None, dict[str, Any]]]:
    return {
        key: (service, json.loads(attributes))
        for key, service, attributes in conn.execute("SELECT key, service_name, attributes FROM resources")
    }


def _derive_batch(
    conn: sqlite3.Connection,
    batch_id: int,
    signal: Signal,
    resources: dict[bytes, tuple[str | None, dict[str, Any]]],
    scopes: dict[bytes, str],
    cutoff: int | None,
) -> int:
    table = TABLES[signal.value]
    derivation = Derivation()
    sinks: dict[tuple[bytes, bytes], Any] = {}
    columns = ", ".join(table.row._fields)
    for values in conn.execute(f"SELECT {columns} FROM {table.name} WHERE batch_id = ? ORDER BY id", (batch_id,)):
        row = table.row(*values)
        pair = (row.resource_key, row.scope_key)
        if pair not in sinks:
            service, attributes = resources[row.resource_key]
            sinks[pair] = derivation.for_scope(signal, row.resource_key, service, attributes, scopes[row.scope_key])
        sinks[pair](row, json.loads(row.attributes))
    facts = derivation.facts
    presence = derivation.presence
    if cutoff is not None:
        facts = [f for f in facts if f.time_ns >= cutoff]
        presence = {p for p in presence if p[0] >= cutoff // BUCKET_NS}
    insert_presence(conn, presence)
    return insert_facts(conn, facts, baseline_before=cutoff)


class ProgressBar:
    """A one-line progress bar on a terminal; silent when stderr is not one."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.started = time.monotonic()
        self.shown = 0.0
        self.live = stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.live or (now - self.shown < 0.1 and done < total):
            return
        self.shown = now
        filled = self.width * done // max(total, 1)
        rate = done / max(now - self.started, 1e-9)
        self.stream.write(f"\rreindex [{'#' * filled}{'.' * (self.width - filled)}] {done:,}/{total:,} batches ({rate:,.0f}/s)")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
