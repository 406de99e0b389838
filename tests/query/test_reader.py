"""query.reader: per-thread read-only connections, one snapshot per answer, and changed().

Every test writes through the real Writer (store/writer.py: its own connection,
WAL, BEGIN IMMEDIATE) while the Reader reads the same file, as `agentwatch serve`
and a surface do. Batches are tagged OTLP log requests (support/tagged.py) of 20
records each, so the expected row counts are 20 per committed batch.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path
from typing import Iterator

import pytest
import sqlite_utils

from agentwatch.query.feed import feed
from agentwatch.query.period import period
from agentwatch.query.reader import Reader, snapshot
from agentwatch.query.summary import summary
from agentwatch.store import schema
from agentwatch.store.connect import StoreError
from agentwatch.store.writer import Committed, Writer
from support.tagged import RECORDS_PER_REQUEST, new_run
from support.writer_kit import running_writer, tagged_batch

WAIT_S = 20
DAY = period(dt.date(2025, 10, 9), dt.date(2025, 10, 9), "UTC")  # the tagged records' day (BASE_TIME_NS)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Path, Writer]]:
    db = tmp_path / "agentwatch.db"
    with running_writer(db) as writer:
        yield db, writer


def commit(writer: Writer, run: str, req: int) -> None:
    outcome = writer.submit(tagged_batch(run, req)).result(WAIT_S)
    assert isinstance(outcome, Committed)


def stored_logs(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM log_records").fetchone()[0])


def test_changed_is_false_until_a_commit_then_true_once(store: tuple[Path, Writer]) -> None:
    db, writer = store
    run = new_run()
    with Reader(db) as reader:
        assert reader.changed() is False  # nothing committed since the Reader opened
        assert reader.changed() is False
        commit(writer, run, 1)
        assert reader.changed() is True
        assert reader.changed() is False  # that commit was seen at the last look
        commit(writer, run, 2)
        commit(writer, run, 3)
        assert reader.changed() is True  # two commits, one look: changed, once
        assert reader.changed() is False


def test_reading_is_not_a_change(store: tuple[Path, Writer]) -> None:
    db, writer = store
    commit(writer, new_run(), 1)
    with Reader(db) as reader:
        reader.read(summary, DAY)
        reader.read(feed)
        assert reader.changed() is False


def test_a_snapshot_gives_one_answer_while_a_commit_lands_between_its_queries(store: tuple[Path, Writer]) -> None:
    db, writer = store
    run = new_run()
    commit(writer, run, 1)
    with Reader(db) as reader:
        with reader.snapshot() as conn:
            before = stored_logs(conn)  # 1 batch x 20 records
            commit(writer, run, 2)  # committed by the writer while the snapshot is open
            during = stored_logs(conn)
            totals = conn.execute("SELECT sum(rows) FROM agent_totals").fetchone()[0]
        with reader.snapshot() as conn:
            after = stored_logs(conn)
    assert (before, during, totals) == (20, 20, 20)  # both queries saw the first commit only
    assert after == 2 * RECORDS_PER_REQUEST  # the next snapshot sees the second: 2 x 20


def test_threads_read_concurrently_on_their_own_connections_while_the_writer_commits(
    store: tuple[Path, Writer],
) -> None:
    db, writer = store
    run = new_run()
    batches, readers = 30, 4
    seen: dict[int, list[int]] = {}
    connections: dict[int, int] = {}
    errors: list[BaseException] = []
    done = threading.Event()

    with Reader(db) as reader:

        def read_until_done(worker: int) -> None:
            counts: list[int] = []
            try:
                while True:
                    finished = done.is_set()  # read once more after the last commit
                    with reader.snapshot() as conn:
                        connections[worker] = id(conn)
                        counts.append(stored_logs(conn))
                        summary(conn, DAY)  # a whole answer on the same snapshot
                    reader.changed()  # polled from every thread at once
                    if finished:
                        break
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
            seen[worker] = counts

        threads = [threading.Thread(target=read_until_done, args=(w,)) for w in range(readers)]
        for t in threads:
            t.start()
        for req in range(batches):
            commit(writer, run, req)
        done.set()
        for t in threads:
            t.join(WAIT_S)

    assert errors == []
    assert len(set(connections.values())) == readers  # one connection per thread
    for counts in seen.values():
        assert counts == sorted(counts)  # never an older snapshot after a newer one
        assert all(c % RECORDS_PER_REQUEST == 0 for c in counts)  # never half a batch
        assert counts[-1] == batches * RECORDS_PER_REQUEST  # 30 x 20 = 600 at the end


def test_a_thread_that_ended_does_not_keep_its_connection(store: tuple[Path, Writer]) -> None:
    db, writer = store
    commit(writer, new_run(), 1)
    with Reader(db) as reader:
        first: list[sqlite3.Connection] = []

        def read_once() -> None:
            with reader.snapshot() as conn:
                first.append(conn)

        worker = threading.Thread(target=read_once)
        worker.start()
        worker.join(WAIT_S)
        reader.read(stored_logs)  # this thread's first read tidies up after the finished one
        with pytest.raises(sqlite3.ProgrammingError):  # closed
            first[0].execute("SELECT 1")


def test_queries_only_read_not_even_a_temp_table_is_written(store: tuple[Path, Writer]) -> None:
    db, writer = store
    commit(writer, new_run(), 1)
    actions: set[int] = set()

    def record(action: int, *_: object) -> int:
        actions.add(action)  # SQLite asks before every read, write, CREATE and DROP it compiles
        return sqlite3.SQLITE_OK

    with Reader(db) as reader, reader.snapshot() as conn:
        conn.set_authorizer(record)
        summary(conn, DAY)
        feed(conn)
        conn.set_authorizer(None)
    assert actions <= {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION}


def test_a_missing_database_is_a_store_error_and_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    with pytest.raises(StoreError, match="no database at"):
        Reader(db)
    with pytest.raises(StoreError, match="no database at"):
        with snapshot(db):
            pass
    assert list(tmp_path.iterdir()) == []


def test_a_database_without_figures_is_named_as_from_an_older_agentwatch(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    # 0.1 stored raw rows only: its schema stopped at the first migration.
    schema.migrations.apply(sqlite_utils.Database(db), stop_before="m002_normalised")
    with pytest.raises(StoreError, match="older agentwatch"):
        Reader(db)
    with pytest.raises(StoreError, match="older agentwatch"):
        with snapshot(db):
            pass
