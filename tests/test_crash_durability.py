"""T21/T22: what a client was told is what the store holds, across kill -9 and SIGTERM.

A loader subprocess (support/loader.py) sends tagged log requests of
RECORDS_PER_REQUEST records each and logs every acknowledgement it received;
the store is then compared against that log, request by request.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from support.db_lock import hold_exclusive
from support.listener import Listener, query, start_listener
from support.load_process import start_loader
from support.tagged import (
    RECORDS_PER_REQUEST,
    integrity,
    log_body,
    new_run,
    post,
    rows_per_request,
    service_of,
)

KILLS = 10  # kill -9 cycles; each costs about one listener start (~1 s)
SEED = 21
KILL_AFTER_S = (0.25, 1.0)  # random time under load before each kill
# What a client sees when the connection it sent on dies (not a refused new connection).
CUT_OFF = {"conn:RemoteDisconnected", "conn:ConnectionResetError", "conn:BrokenPipeError"}
SIGTERM_EXIT_BUDGET_S = 5.0
GRPC_LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


def _assert_whole(db: Path, run: str, acked: set[int]) -> dict[int, int]:
    """Every acked request has all its records; no request is stored in part."""
    present = rows_per_request(db, run)
    partial = {req: n for req, n in present.items() if n != RECORDS_PER_REQUEST}
    assert partial == {}, f"requests stored in part: {partial}"
    lost = acked - present.keys()
    assert lost == set(), f"acknowledged but not stored: {sorted(lost)}"
    return present


def _stored(db: Path, run: str) -> int:
    """Log records of this run, counted two independent ways that must agree."""
    (by_attr,) = query(
        db, "SELECT count(*) FROM log_records WHERE json_extract(attributes, '$.run') = ?", (run,)
    )[0]
    (by_resource,) = query(
        db,
        "SELECT count(*) FROM log_records l JOIN resources r ON r.key = l.resource_key "
        "WHERE r.agent = ?",
        (service_of(run),),
    )[0]
    assert by_attr == by_resource
    return by_attr


def _kill_and_restart(srv: Listener, db: Path) -> Listener:
    srv.kill()
    assert srv.proc.returncode == -signal.SIGKILL
    return start_listener(db)


def test_kill_9_mid_ingest_loses_no_acked_request_and_stores_none_in_part(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    run = new_run()
    db = tmp_path / "agentwatch.db"
    srv = start_listener(db)
    load = start_loader(tmp_path / "load", run, srv.http_port, mode="retry", threads=4)
    acked_at_kill = []
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(*KILL_AFTER_S))
            acked_at_kill.append(len(load.acked()))
            srv = _kill_and_restart(srv, db)
            # Read the acks first: anything acked by now must already be stored.
            _assert_whole(db, run, load.acked())
            load.point_at(srv.http_port)
        time.sleep(0.5)
        load.stop()

        attempts = load.outcomes()
        acked = load.acked()
        # Each kill happened while the loader was making progress, not while it idled.
        assert all(b > a for a, b in zip(acked_at_kill, acked_at_kill[1:])), acked_at_kill
        # The loader retries until acknowledged, so every request it started was acked once the
        # listener came back: the store must hold exactly those, each whole and each once.
        assert set(attempts) == acked
        present = _assert_whole(db, run, acked)
        assert set(present) == acked
        cut_off = [r for r, tries in attempts.items() if CUT_OFF & set(tries)]
        assert cut_off, "no kill landed while a request was in flight"
        total = len(acked) * RECORDS_PER_REQUEST
        assert _stored(db, run) == total
        assert query(db, "SELECT rows FROM agent_totals WHERE agent = ?", (service_of(run),)) == [(total,)]
        assert integrity(db) == "ok"

        # Re-sending what was already acknowledged (as a client does after a reconnect) adds nothing.
        for req in sorted(acked):
            status, _, _ = post(srv.http_port, "/v1/logs", log_body(run, req))
            assert status == 200
        assert _stored(db, run) == total
        assert query(db, "SELECT rows FROM agent_totals WHERE agent = ?", (service_of(run),)) == [(total,)]
    finally:
        load.stop_file.touch()
        if load.proc.poll() is None:
            load.proc.kill()
        srv.stop()
    assert srv.proc.returncode == 0
    assert integrity(db) == "ok"


def test_sigterm_under_load_acks_only_what_it_stored_and_exits_0_quickly(tmp_path: Path) -> None:
    run = new_run()
    db = tmp_path / "agentwatch.db"
    srv = start_listener(db)
    load = start_loader(tmp_path / "load", run, srv.http_port, mode="once", threads=8)
    try:
        time.sleep(1.0)
        started = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        code = srv.proc.wait(SIGTERM_EXIT_BUDGET_S + 5)
        took = time.monotonic() - started
        load.stop()
    finally:
        if load.proc.poll() is None:
            load.proc.kill()
        srv.stop()
    assert code == 0, srv.stderr()
    assert took < SIGTERM_EXIT_BUDGET_S, f"took {took:.1f} s to exit"

    attempts = load.outcomes()
    acked = load.acked()
    refused = {r for r, tries in attempts.items() if "200" not in tries}
    assert len(acked) > 20, "the load never got going"
    assert refused, "no request arrived after SIGTERM; the test did not overlap the shutdown"
    # Refusals are retryable ones only: 503 or a closed/refused connection, never a 500.
    outcomes = {t for tries in attempts.values() for t in tries}
    assert outcomes <= {"200", "503"} | {t for t in outcomes if t.startswith("conn:")}, outcomes
    present = _assert_whole(db, run, acked)
    # Whatever was stored without an ack was in flight at shutdown (committed, response lost):
    # the client saw a failure for it and will re-send, which dedup absorbs.
    assert set(present) - acked <= refused
    assert integrity(db) == "ok"


def _grpc_export(target: str, body: bytes) -> grpc.StatusCode:
    with grpc.insecure_channel(target) as channel:
        try:
            channel.unary_unary(GRPC_LOGS)(body, timeout=10)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def test_sigterm_stops_both_ports_at_once_and_still_answers_what_is_in_flight(tmp_path: Path) -> None:
    # Requests in flight are kept waiting by a lock held elsewhere, so shutdown has to wait for them.
    run = new_run()
    db = tmp_path / "agentwatch.db"
    srv = start_listener(db)
    locker = hold_exclusive(db, 6.0)
    try:
        with ThreadPoolExecutor(2) as pool:
            in_flight_grpc = pool.submit(_grpc_export, srv.grpc_target, log_body(run, 1))
            in_flight_http = pool.submit(post, srv.http_port, "/v1/logs", log_body(run, 2))
            time.sleep(0.5)
            started = time.monotonic()
            srv.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            # Neither transport takes new work once shutdown has begun.
            with pytest.raises(ConnectionRefusedError):
                post(srv.http_port, "/v1/logs", log_body(run, 3), timeout=5)
            assert _grpc_export(srv.grpc_target, log_body(run, 4)) == grpc.StatusCode.UNAVAILABLE
            # What was already in flight gets a real (retryable) answer, not a dropped connection.
            assert in_flight_http.result(10)[0] == 503
            assert in_flight_grpc.result(10) == grpc.StatusCode.UNAVAILABLE
        code = srv.proc.wait(SIGTERM_EXIT_BUDGET_S + 5)
        took = time.monotonic() - started
    finally:
        locker.kill()
        locker.wait()
        srv.stop()
    assert code == 0
    assert took < SIGTERM_EXIT_BUDGET_S
    assert rows_per_request(db, run) == {}


def test_reading_a_cleanly_closed_store_needs_no_listener(tmp_path: Path) -> None:
    # The checks above read the db after the listener is gone; make sure that is a real read.
    run = new_run()
    db = tmp_path / "agentwatch.db"
    srv = start_listener(db)
    assert post(srv.http_port, "/v1/logs", log_body(run, 7))[0] == 200
    assert srv.stop() == 0
    assert rows_per_request(db, run) == {7: RECORDS_PER_REQUEST}
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
