"""The one writer: a thread that owns the only write connection.

Requests are queued as jobs; the thread takes every job waiting, writes each in
its own savepoint inside one BEGIN IMMEDIATE transaction and resolves their
futures only after COMMIT returns (group commit: one fsync acknowledges many
requests, which is how synchronous=FULL stays fast). Anything that stops the
commit — a lock held elsewhere, a full disk, an I/O error — rolls the whole
group back and every job in it is answered "unavailable", so a request is
either stored completely and acknowledged, or refused with nothing written.
"""

from __future__ import annotations

import logging
import operator
import os
import queue
import sqlite3
import threading
import time
import traceback
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any, Callable, TypeVar

from agentwatch.records import Batch, LogRow, PointRow, SpanRow
from agentwatch.store import schema
from agentwatch.store.connect import BUSY_TIMEOUT_MS, StoreError, open_writer
from agentwatch.store.facts import insert_facts, insert_presence

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Committed:
    stored: int  # records new to the store
    duplicates: int  # records already stored (a re-sent batch)


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Temporary: the client should retry (HTTP 503, gRPC UNAVAILABLE)."""

    reason: str


WriteOutcome = Committed | Unavailable


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    insert_sql: str
    row: type  # the row type; its fields are the columns after batch_id


def _table(name: str, row: type) -> _Table:
    # Rows go to SQLite as they are (the row type's fields are the columns, in order),
    # with the row's agent label appended; the batch id is the batch row this
    # transaction just inserted, so SQL supplies it rather than Python rebuilding
    # every row as (batch_id, *row).
    columns = (*row._fields, "agent")
    cols = ", ".join(["batch_id", *columns])
    marks = ", ".join("?" * len(columns))
    sql = f"INSERT OR IGNORE INTO {name} ({cols}) VALUES ((SELECT max(id) FROM batches), {marks})"
    return _Table(name, sql, row)


TABLES = {
    "logs": _table("log_records", LogRow),
    "metrics": _table("metric_points", PointRow),
    "traces": _table("spans", SpanRow),
}

# Jobs waiting longer than this are answered 503 without trying: the client's
# 10 s deadline is near, and a retry will find the database free sooner.
JOB_DEADLINE_S = 4.0
MAX_PENDING_JOBS = 512
MAX_GROUP_RECORDS = 20_000
IDLE_CHECKPOINT_S = 5.0


BatchWork = Batch | Callable[[], Batch]


@dataclass(slots=True)
class _Job:
    future: Future[Any]
    enqueued: float
    batch: BatchWork | None = None
    records: int = 0
    call: Callable[[sqlite3.Connection], Any] | None = None


_STOP = object()


class Writer:
    """Owns the write connection; everything that changes the database goes through it."""

    def __init__(
        self,
        path: Path,
        *,
        on_connect: Callable[[sqlite3.Connection], None] | None = None,
        max_pending: int = MAX_PENDING_JOBS,
    ) -> None:
        self.path = path
        self._on_connect = on_connect
        self._queue: queue.Queue[Any] = queue.Queue()
        self._pending = threading.BoundedSemaphore(max_pending)
        self._closed = False
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._dirty = False
        self._working = False
        self.last_error: str | None = None
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file opened
        self.migrated_from = schema.SCHEMA_VERSION  # the schema version the file had when opened

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        """Open, check and migrate the database, then start the writer thread."""
        conn = open_writer(self.path)  # refuses a file that fails quick_check
        self._identity = _identity(self.path)
        try:
            self.migrated_from = schema.migrate(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot prepare {self.path}: {exc}") from exc
        if self._on_connect:
            self._on_connect(conn)
        self._conn = conn
        self._thread = threading.Thread(target=self._run, name="agentwatch-writer", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop accepting work, finish what is queued, close the connection."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        if self._thread:
            self._thread.join(timeout)

    @property
    def busy(self) -> bool:
        """True while the writer thread is writing or has jobs waiting."""
        return self._working or not self._queue.empty()

    # -- submitting work -----------------------------------------------------
    def submit(self, batch: BatchWork, records: int = 0) -> Future[WriteOutcome]:
        """Queue one request's rows, or a function that builds them.

        Building rows on this thread, next to the inserts, keeps the request
        thread free for I/O and spares the two threads from trading the GIL back
        and forth on every row (each SQLite step releases and retakes it), which
        measured slower than doing both here in turn.
        """
        if isinstance(batch, Batch):
            records = batch.records
        return self._enqueue(_Job(Future(), time.monotonic(), batch=batch, records=records))

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Run fn(conn) on the writer thread inside its own IMMEDIATE transaction."""
        return self._enqueue(_Job(Future(), time.monotonic(), call=fn))

    def _enqueue(self, job: _Job) -> Future[Any]:
        if self._closed:
            job.future.set_result(Unavailable("agentwatch is shutting down"))
            return job.future
        if not self._pending.acquire(blocking=False):
            job.future.set_result(Unavailable("too many requests waiting for the database"))
            return job.future
        job.future.add_done_callback(lambda _: self._pending.release())
        self._queue.put(job)
        return job.future

    # -- the thread ----------------------------------------------------------
    def _run(self) -> None:
        assert self._conn is not None
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=IDLE_CHECKPOINT_S)
            except queue.Empty:
                self._idle_checkpoint()
                continue
            if first is _STOP:
                break
            self._working = True
            group, stopping = self._take_group(first)
            self._process(group)
            self._working = False
        self._idle_checkpoint()
        self._conn.close()

    def _process(self, group: list[_Job]) -> None:
        # A caller that gave up (a cancelled gRPC call) cancels its future; claiming
        # each future first means no later set_result can fail on a cancelled one.
        group = [job for job in group if job.future.set_running_or_notify_cancel()]
        try:
            self._write_group([job for job in group if job.batch is not None])
            for job in group:
                if job.call is not None:
                    self._run_call(job)
        except Exception as exc:  # noqa: BLE001 - a bug here must not stop the only writer
            # Frames but not the message, which could quote a stored value (RELIABILITY V4).
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("writer error (%s); its requests were refused\n%s", type(exc).__name__, frames)
            self._rollback(self._conn)  # type: ignore[arg-type]
            for job in group:
                if not job.future.done():
                    job.future.set_result(Unavailable("internal error in the writer"))

    def _take_group(self, first: _Job) -> tuple[list[_Job], bool]:
        group = [first]
        records = first.records
        while records < MAX_GROUP_RECORDS:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return group, False
            if job is _STOP:
                return group, True
            group.append(job)
            records += job.records
        return group, False

    def _write_group(self, jobs: list[_Job]) -> None:
        now = time.monotonic()
        live = []
        for job in jobs:
            if now - job.enqueued > JOB_DEADLINE_S:
                job.future.set_result(Unavailable("timed out waiting for the database"))
            elif self._prepare(job):
                live.append(job)
        if not live:
            return
        gone = self._file_gone()
        if gone is not None:
            for job in live:
                job.future.set_result(Unavailable(gone))
            return
        conn = self._conn
        assert conn is not None
        results: list[tuple[_Job, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in live:
                results.append((job, self._write_job(conn, job)))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(conn)
            self._note_error(str(exc))
            for job in live:
                job.future.set_result(Unavailable(f"database unavailable: {exc}"))
            return
        self._dirty = True
        if self.last_error is not None:
            log.warning("database writable again")
            self.last_error = None
        for job, result in results:
            if isinstance(result, BaseException):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)

    @staticmethod
    def _prepare(job: _Job) -> bool:
        """Build the job's rows before the transaction opens, so it stays short."""
        if callable(job.batch):
            try:
                job.batch = job.batch()
            except Exception as exc:  # noqa: BLE001 - a bug in building rows: this request's error
                job.future.set_exception(exc)
                return False
        return True

    def _write_job(self, conn: sqlite3.Connection, job: _Job) -> Committed | BaseException:
        """One request in a savepoint: a bug in one request cannot spoil the others."""
        assert isinstance(job.batch, Batch)
        conn.execute("SAVEPOINT job")
        try:
            result: Committed | BaseException = insert_batch(conn, job.batch)
        except Exception as exc:  # noqa: BLE001 - reported to this request's caller
            if type(exc) in (sqlite3.OperationalError, sqlite3.DatabaseError):
                raise  # the database itself is in trouble (locked, full, corrupt): fail the group
            conn.execute("ROLLBACK TO SAVEPOINT job")
            result = exc
        conn.execute("RELEASE SAVEPOINT job")
        return result

    def _run_call(self, job: _Job) -> None:
        assert job.call is not None and self._conn is not None
        conn = self._conn
        gone = self._file_gone()
        if gone is not None:
            job.future.set_exception(StoreError(gone))
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            value = job.call(conn)
            if conn.in_transaction:
                conn.execute("COMMIT")
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self._rollback(conn)
            job.future.set_exception(exc)
            return
        self._dirty = True
        job.future.set_result(value)

    def _rollback(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("rollback failed")

    def _file_gone(self) -> str | None:
        """Why nothing can be stored any more, when the path no longer names the file this
        writer opened (deleted, with its -wal and -shm, or replaced): commits would still
        succeed, into an unlinked file, and acknowledge records that go nowhere. One stat
        per group commit (4 µs measured here, against a commit's milliseconds); SQLite
        keeps the old file open, so its inode cannot be reused while this writer runs."""
        if self._identity is None or _identity(self.path) == self._identity:
            return None
        message = (
            f"the database file {self.path} was deleted or replaced after agentwatch serve opened it; "
            "nothing can be stored: restart agentwatch serve"
        )
        self._note_error(message)
        return message

    def _note_error(self, message: str) -> None:
        if message != self.last_error:
            log.warning("cannot commit, answering 503 until it clears: %s", message)
        self.last_error = message

    def _idle_checkpoint(self) -> None:
        # Keeps the WAL from growing while nothing is written (RELIABILITY D8). While a
        # reader is in the way the checkpoint comes back busy; staying dirty makes the
        # next idle tick try again, otherwise the WAL would keep its size until the next write.
        if self._dirty and self._conn is not None:
            try:
                self._dirty = not _truncate_wal_without_waiting(self._conn)
            except sqlite3.Error as exc:
                log.warning("idle checkpoint failed: %s", exc)


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at path, None when there is none. A stat, never an open:
    closing a descriptor of the database would drop SQLite's fcntl locks on it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _truncate_wal_without_waiting(conn: sqlite3.Connection) -> bool:
    """Checkpoint and truncate the WAL; False if a reader kept it from finishing.

    Busy is reported as a result row, not an exception. The busy timeout is off
    for this: waiting would hold up any request arriving meanwhile, on every idle
    tick for as long as a long reader lasts, and the next tick retries anyway.
    """
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return busy == 0


# -- what one request writes ---------------------------------------------------
def insert_batch(conn: sqlite3.Connection, batch: Batch) -> Committed:
    """Write one request's rows; the caller owns the transaction."""
    table = TABLES[batch.signal.value]
    rows = batch.rows
    conn.executemany(
        "INSERT OR IGNORE INTO resources VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (r.key, r.agent, r.service_name, r.attributes, r.elided, r.dropped_attributes, r.schema_url)
            for r in batch.resources
        ],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO scopes VALUES (?, ?, ?, ?, ?)",
        [(s.key, s.name, s.version, s.attributes, s.schema_url) for s in batch.scopes],
    )
    batch_id = conn.execute(
        "INSERT INTO batches (received_ns, signal, transport, records, stored) VALUES (?, ?, ?, ?, 0)",
        (batch.received_ns, batch.signal.value, batch.transport, len(rows)),
    ).lastrowid
    stored_by_agent = _insert_rows(conn, table, batch, rows)
    stored = sum(stored_by_agent.values())
    conn.execute("UPDATE batches SET stored = ? WHERE id = ?", (stored, batch_id))
    insert_presence(conn, batch.presence)
    insert_facts(conn, batch.facts)
    conn.executemany(
        "INSERT INTO agent_totals (agent, signal, rows, last_received_ns) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (agent, signal) DO UPDATE SET rows = rows + excluded.rows, "
        "last_received_ns = max(last_received_ns, excluded.last_received_ns)",
        [(agent, batch.signal.value, n, batch.received_ns) for agent, n in stored_by_agent.items()],
    )
    return Committed(stored=stored, duplicates=len(rows) - stored)


def _insert_rows(
    conn: sqlite3.Connection,
    table: _Table,
    batch: Batch,
    rows: tuple[LogRow | PointRow | SpanRow, ...],
) -> dict[str, int]:
    """INSERT OR IGNORE on the dedup key: a record stored before is skipped.

    Returns the number of new rows per agent (rows are grouped by agent so
    executemany's rowcount can say how many of each were new). A row's agent is
    the one normalise labelled it with, else its resource's (nothing derived).
    """
    agents = batch.agents
    if not agents:
        agent_of = {r.key: r.agent for r in batch.resources}
        agents = tuple(agent_of[row.resource_key] for row in rows)
    distinct = set(agents)
    if len(distinct) == 1:  # the usual request: one agent, no grouping needed
        agent = distinct.pop()
        return {agent: conn.executemany(table.insert_sql, map(operator.add, rows, repeat((agent,)))).rowcount}
    by_agent: dict[str, list[tuple[object, ...]]] = {}
    for row, agent in zip(rows, agents, strict=True):
        by_agent.setdefault(agent, []).append((*row, agent))
    return {agent: conn.executemany(table.insert_sql, group).rowcount for agent, group in by_agent.items()}
