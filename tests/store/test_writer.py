"""The one writer: ack after commit, group commit, dedup, all-or-nothing under faults (T27, T28)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from concurrent.futures import Future, wait
from dataclasses import replace
from pathlib import Path

from agentwatch.store.writer import IDLE_CHECKPOINT_S, Committed, Unavailable, Writer

from support.tagged import RECORDS_PER_REQUEST, integrity, new_run, rows_per_request, service_of
from support.writer_kit import Gate, running_writer, tagged_batch

RESULT_TIMEOUT_S = 20.0


def _totals(db: Path, agent: str) -> list[tuple[str, int]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT signal, rows FROM agent_totals WHERE agent = ? ORDER BY signal", (agent,)
        ).fetchall()
    conn.close()
    return rows


# -- acknowledgement ------------------------------------------------------------------------------
def test_a_batch_is_acknowledged_only_once_a_second_connection_sees_its_rows(tmp_path: Path) -> None:
    db, run = tmp_path / "agentwatch.db", new_run()
    seen_at_ack: list[dict[int, int]] = []
    with running_writer(db) as writer:
        gate = Gate(writer)  # the callback below is registered before the writer can resolve
        future = writer.submit(tagged_batch(run, 1))
        # Runs on the writer thread at the very moment the future resolves.
        future.add_done_callback(lambda _: seen_at_ack.append(rows_per_request(db, run)))
        assert not future.done()
        gate.open()
        assert future.result(RESULT_TIMEOUT_S) == Committed(stored=RECORDS_PER_REQUEST, duplicates=0)
    assert seen_at_ack == [{1: RECORDS_PER_REQUEST}]


def test_concurrent_submits_resolve_correctly_and_share_one_commit(tmp_path: Path) -> None:
    db, run = tmp_path / "agentwatch.db", new_run()
    statements: list[str] = []
    threads, per_thread = 5, 10
    futures: dict[int, Future] = {}
    lock = threading.Lock()

    def submit_some(first: int) -> None:
        for req in range(first, first + per_thread):
            future = writer.submit(tagged_batch(run, req))
            with lock:
                futures[req] = future

    with running_writer(db, on_connect=lambda c: c.set_trace_callback(statements.append)) as writer:
        gate = Gate(writer)
        workers = [threading.Thread(target=submit_some, args=(t * per_thread,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        before = len(statements)
        gate.open()
        wait(futures.values(), RESULT_TIMEOUT_S)
        after = statements[before:]

    batches = threads * per_thread
    assert {req: f.result() for req, f in futures.items()} == {
        req: Committed(stored=RECORDS_PER_REQUEST, duplicates=0) for req in range(batches)
    }
    assert rows_per_request(db, run) == {req: RECORDS_PER_REQUEST for req in range(batches)}
    # 50 queued batches (1,000 records, under MAX_GROUP_RECORDS) go out in one transaction:
    # the gate's own COMMIT, then exactly one for all the batches.
    assert after.count("COMMIT") == 2
    assert after.count("SAVEPOINT job") == batches
    begins = [s for s in statements if s.upper().startswith("BEGIN")]
    assert begins and set(begins) == {"BEGIN IMMEDIATE"}  # never a deferred BEGIN (RELIABILITY D4)


# -- re-sent batches ------------------------------------------------------------------------------
def test_a_resent_batch_is_stored_once_and_counted_once(tmp_path: Path) -> None:
    db, run = tmp_path / "agentwatch.db", new_run()
    batch = tagged_batch(run, 3)
    later = tagged_batch(run, 3)  # the same request decoded again, as a client's retry is
    assert later.received_ns != batch.received_ns
    with running_writer(db) as writer:
        first = writer.submit(batch).result(RESULT_TIMEOUT_S)
        again = writer.submit(batch).result(RESULT_TIMEOUT_S)
        retry = writer.submit(later).result(RESULT_TIMEOUT_S)
    assert first == Committed(stored=20, duplicates=0)
    assert again == Committed(stored=0, duplicates=20)
    assert retry == Committed(stored=0, duplicates=20)
    assert rows_per_request(db, run) == {3: 20}
    assert _totals(db, service_of(run)) == [("logs", 20)]


def test_a_request_that_fails_is_rolled_back_without_spoiling_its_group(tmp_path: Path) -> None:
    db, run = tmp_path / "agentwatch.db", new_run()
    # A batch whose rows name a resource it does not carry: insert_batch fails part-way,
    # after its `batches` row and its scope were already written.
    broken = replace(tagged_batch(run, 2), resources=())
    with running_writer(db) as writer:
        gate = Gate(writer)
        good_before = writer.submit(tagged_batch(run, 1))
        bad = writer.submit(broken)
        good_after = writer.submit(tagged_batch(run, 3))
        gate.open()
        assert good_before.result(RESULT_TIMEOUT_S) == Committed(20, 0)
        assert isinstance(bad.exception(RESULT_TIMEOUT_S), KeyError)
        assert good_after.result(RESULT_TIMEOUT_S) == Committed(20, 0)
    assert rows_per_request(db, run) == {1: 20, 3: 20}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*), sum(stored) FROM batches").fetchone() == (2, 40)
    conn.close()


# -- shutdown -------------------------------------------------------------------------------------
def test_close_commits_what_was_queued_and_refuses_what_comes_after(tmp_path: Path) -> None:
    db, run = tmp_path / "agentwatch.db", new_run()
    writer = Writer(db)
    writer.start()
    gate = Gate(writer)
    queued = [writer.submit(tagged_batch(run, req)) for req in range(5)]
    closer = threading.Thread(target=writer.close)
    closer.start()
    time.sleep(0.1)  # close() has queued its stop behind the five batches
    late = writer.submit(tagged_batch(run, 99))
    gate.open()
    closer.join(RESULT_TIMEOUT_S)
    assert [f.result(0) for f in queued] == [Committed(20, 0)] * 5
    assert late.result(0) == Unavailable("agentwatch is shutting down")
    assert rows_per_request(db, run) == {req: 20 for req in range(5)}
    assert not Path(f"{db}-wal").exists() or os.path.getsize(f"{db}-wal") == 0


# -- T28: disk full -------------------------------------------------------------------------------
def test_a_full_disk_answers_unavailable_stores_nothing_partial_and_resumes(tmp_path: Path) -> None:
    db, run = tmp_path / "agentwatch.db", new_run()

    def small_disk(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 12}")  # room for a few batches only

    outcomes: dict[int, object] = {}
    with running_writer(db, on_connect=small_disk) as writer:
        req = 0
        while req < 200 and not isinstance(outcomes.get(req - 1), Unavailable):
            outcomes[req] = writer.submit(tagged_batch(run, req, body_chars=200)).result(RESULT_TIMEOUT_S)
            req += 1
        full = req - 1
        assert isinstance(outcomes[full], Unavailable), "the small disk never filled up"
        assert "full" in outcomes[full].reason and writer.last_error is not None
        assert full >= 2, "some batches should fit before the disk fills"

        # A group of several fails as a whole, each with 503 and nothing stored.
        gate = Gate(writer)
        group = {r: writer.submit(tagged_batch(run, r, body_chars=200)) for r in range(full + 1, full + 6)}
        gate.open()
        outcomes.update({r: f.result(RESULT_TIMEOUT_S) for r, f in group.items()})
        assert all(isinstance(outcomes[r], Unavailable) for r in group)

        stored = rows_per_request(db, run)
        committed = {r for r, o in outcomes.items() if isinstance(o, Committed)}
        assert stored == {r: 20 for r in committed}
        assert integrity(db) == "ok"

        # Space comes back: the same writer commits again, with no restart.
        writer.call(lambda c: c.execute("PRAGMA max_page_count = 1073741823")).result(RESULT_TIMEOUT_S)
        refused = sorted(set(outcomes) - committed)
        retried = [
            writer.submit(tagged_batch(run, r, body_chars=200)).result(RESULT_TIMEOUT_S) for r in refused
        ]
        assert retried == [Committed(20, 0)] * len(refused)
        assert writer.last_error is None
    assert rows_per_request(db, run) == {r: 20 for r in outcomes}
    assert _totals(db, service_of(run)) == [("logs", 20 * len(outcomes))]
    assert integrity(db) == "ok"


# -- T27: a long-lived reader -----------------------------------------------------------------------
def test_a_long_reader_does_not_block_writes_and_the_wal_is_truncated_after_it_ends(tmp_path: Path) -> None:
    db, run = tmp_path / "agentwatch.db", new_run()
    wal = Path(f"{db}-wal")
    requests, per_request = 50, 1000  # 50k records
    batches = [tagged_batch(run, req, records=per_request) for req in range(requests)]
    with running_writer(db) as writer:
        reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM log_records").fetchone() == (0,)

        futures = [writer.submit(b) for b in batches]
        wait(futures, 60)
        assert [f.result() for f in futures] == [Committed(per_request, 0)] * requests
        grown = wal.stat().st_size
        assert grown > 4 * 1024 * 1024  # past the 1000-page autocheckpoint: the reader pins it

        # The reader outlives the writer's first idle checkpoint (which must report busy)...
        time.sleep(IDLE_CHECKPOINT_S + 2.5)
        assert reader.execute("SELECT count(*) FROM log_records").fetchone() == (0,)  # its snapshot
        assert wal.stat().st_size == grown
        reader.execute("COMMIT")
        reader.close()

        # ...and the next idle tick, with no new writes to prompt it, truncates the WAL.
        deadline = time.monotonic() + IDLE_CHECKPOINT_S + 3
        while wal.stat().st_size and time.monotonic() < deadline:
            time.sleep(0.2)
        assert wal.stat().st_size == 0
    assert sum(rows_per_request(db, run).values()) == requests * per_request
