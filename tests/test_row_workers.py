"""The row-building worker process: started by load, used under it, never outlives the listener.

Requests here carry 400 records of ~100-character bodies (well over the 32 KiB
at which a busy listener hands rows to the worker), sent from 4 threads so the
writer is busy and the worker is really used. No worker runs at start: the
first busy spell starts one (`python -m agentwatch.receive.row_worker`).
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from support.listener import Listener, start_listener
from support.probe import children
from support.tagged import log_request, new_run, post, rows_per_request

PROTOBUF, JSON = "application/x-protobuf", "application/json"

RECORDS = 400
REQUESTS = 24


WORKER = b"agentwatch.receive.row_worker"


def _workers(listener_pid: int) -> list[int]:
    return [k for k in children(listener_pid) if WORKER in Path(f"/proc/{k}/cmdline").read_bytes()]


def _worker_cpu_ticks(listener_pid: int) -> int:
    """utime + stime of the listener's worker process(es)."""
    total = 0
    for kid in _workers(listener_pid):
        fields = Path(f"/proc/{kid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total


def _started_worker(srv: Listener) -> list[int]:
    """Load the listener until its worker has started and finished importing; the worker's pid(s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _send_concurrently(srv, new_run())
        if _workers(srv.proc.pid):
            break
    ticks = -1
    while ticks != _worker_cpu_ticks(srv.proc.pid):  # an idle worker, blocked on its pipe, uses no CPU
        ticks = _worker_cpu_ticks(srv.proc.pid)
        time.sleep(0.5)
    return _workers(srv.proc.pid)


def _send_concurrently(srv: Listener, run: str) -> list[int]:
    bodies = [log_request(run, req, RECORDS).SerializeToString() for req in range(REQUESTS)]
    assert len(bodies[0]) > 32 * 1024
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda b: post(srv.http_port, "/v1/logs", b)[0], bodies))


def test_concurrent_large_requests_are_stored_whole_through_the_worker(tmp_path: Path) -> None:
    srv = start_listener(tmp_path / "w.db", "--workers", "1")
    try:
        assert children(srv.proc.pid) == [], "an idle listener runs no worker"
        assert _started_worker(srv)
        run = new_run()
        before = _worker_cpu_ticks(srv.proc.pid)
        assert _send_concurrently(srv, run) == [200] * REQUESTS
        assert _worker_cpu_ticks(srv.proc.pid) > before, "the worker built no rows"
        # 24 requests x 400 records, each request whole.
        assert rows_per_request(srv.db, run) == {req: RECORDS for req in range(REQUESTS)}
    finally:
        srv.stop()


def test_bad_requests_among_busy_traffic_are_refused_with_400_and_store_nothing(tmp_path: Path) -> None:
    # While the writer is busy, large requests are decoded in the worker; a decode
    # error must still come back as a 400 naming the problem.
    srv = start_listener(tmp_path / "b.db", "--workers", "1")
    try:
        assert _started_worker(srv)
        run = new_run()
        good = [log_request(run, req, RECORDS).SerializeToString() for req in range(12)]
        bad_json = b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [' + b'{"timeUnixNano": "abc"},' * 3000 + b"{}]}]}]}"
        bodies = [(b, PROTOBUF) for b in good] + [(bad_json, JSON)] * 6 + [(good[0][:-7], PROTOBUF)] * 6

        def send(item: tuple[bytes, str]) -> int:
            return post(srv.http_port, "/v1/logs", item[0], content_type=item[1])[0]

        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(send, bodies))
        assert statuses[:12] == [200] * 12
        assert statuses[12:] == [400] * 12
        assert rows_per_request(srv.db, run) == {req: RECORDS for req in range(12)}
    finally:
        srv.stop()


def test_the_worker_exits_when_the_listener_is_killed(tmp_path: Path) -> None:
    srv = start_listener(tmp_path / "k.db", "--workers", "1")
    kids = _started_worker(srv)
    assert kids, "load should have started the worker"
    assert children(srv.proc.pid) == kids, "no other process (no multiprocessing resource tracker)"
    srv.kill()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(Path(f"/proc/{k}").exists() for k in kids):
        time.sleep(0.1)
    assert [k for k in kids if Path(f"/proc/{k}").exists()] == []


def test_a_dead_worker_is_replaced_by_building_rows_in_process(tmp_path: Path) -> None:
    srv = start_listener(tmp_path / "d.db", "--workers", "1")
    try:
        for kid in _started_worker(srv):
            os.kill(kid, signal.SIGKILL)
        run = new_run()
        assert _send_concurrently(srv, run) == [200] * REQUESTS
        assert rows_per_request(srv.db, run) == {req: RECORDS for req in range(REQUESTS)}
    finally:
        srv.stop()
    assert "building rows in-process from now on" in srv.stderr()


def test_workers_0_builds_everything_in_process(tmp_path: Path) -> None:
    srv = start_listener(tmp_path / "z.db", "--workers", "0")
    try:
        run = new_run()
        assert _send_concurrently(srv, run) == [200] * REQUESTS
        assert children(srv.proc.pid) == []
        assert rows_per_request(srv.db, run) == {req: RECORDS for req in range(REQUESTS)}
    finally:
        srv.stop()
