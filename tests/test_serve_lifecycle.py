"""`agentwatch serve` as a process: refusing to start (T25, T29) and what it says when it does (T30)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from support.corrupt import quick_check_of, served_and_damaged
from support.db_lock import hold_exclusive
from support.listener import Listener, start_listener
from support.tagged import (
    RECORDS_PER_REQUEST,
    integrity,
    log_body,
    log_request,
    new_run,
    post,
    rows_per_request,
)

REFUSAL_TIMEOUT_S = 20.0


def _serve_expecting_exit(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `agentwatch serve` that should refuse to start; fail if it starts listening instead."""
    cmd = [sys.executable, "-m", "agentwatch", "serve", "--http-port", "0", "--grpc-port", "0",
           "--db", str(db), *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=REFUSAL_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"serve did not exit; it printed {exc.stdout!r}") from None


def _assert_refused(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode != 0
    assert "listening" not in result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def _still_serving(srv: Listener) -> None:
    run = new_run()
    status, _, _ = post(srv.http_port, "/v1/logs", log_body(run, 1))
    assert status == 200
    assert rows_per_request(srv.db, run) == {1: RECORDS_PER_REQUEST}


# -- T25: one listener per database, one per port ------------------------------------------------
def test_a_second_serve_on_the_same_db_exits_non_zero_naming_the_first(listener: Listener) -> None:
    result = _serve_expecting_exit(listener.db)
    _assert_refused(result, f"another agentwatch serve (pid {listener.proc.pid})", str(listener.db))
    _still_serving(listener)
    # The refused instance did not overwrite what the lock file says about the running one.
    status = subprocess.run(
        [sys.executable, "-m", "agentwatch", "status", "--json", "--db", str(listener.db)],
        capture_output=True, text=True, timeout=REFUSAL_TIMEOUT_S,
    )
    assert json.loads(status.stdout)["listener"] == {
        "running": True, "pid": listener.proc.pid, "http_port": listener.http_port,
        "grpc_port": listener.grpc_port, "keep_content": False,
    }


@pytest.mark.parametrize("alias", ["symlink", "hard link", "symlinked folder"])
def test_a_second_serve_through_another_name_of_the_db_is_refused_the_same(listener: Listener, tmp_path: Path, alias: str) -> None:
    # Issue 9 item 4: the lock was `<given path>.lock`, so each of these ran a second writer.
    other = tmp_path / "elsewhere"
    other.mkdir()
    if alias == "symlink":
        name = other / "alias.db"
        name.symlink_to(listener.db)
    elif alias == "hard link":
        name = other / "alias.db"
        os.link(listener.db, name)
    else:
        (other / "folder").symlink_to(listener.db.parent, target_is_directory=True)
        name = other / "folder" / listener.db.name
    result = _serve_expecting_exit(name)
    _assert_refused(result, f"another agentwatch serve (pid {listener.proc.pid}) is already using {name}")
    _still_serving(listener)
    # Refused, it left no lock file of its own beside the alias.
    assert not (other / "alias.db.lock").exists()


def test_a_second_serve_on_the_same_http_port_exits_non_zero_naming_the_port(
    listener: Listener, tmp_path: Path
) -> None:
    result = _serve_expecting_exit(tmp_path / "other.db", "--http-port", str(listener.http_port))
    _assert_refused(result, "OTLP/HTTP", f"port {listener.http_port}", "address already in use")
    _still_serving(listener)


def test_a_second_serve_on_the_same_grpc_port_exits_non_zero_naming_the_port(
    listener: Listener, tmp_path: Path
) -> None:
    # grpcio sets SO_REUSEPORT by default, which would let two servers share the port silently.
    result = _serve_expecting_exit(tmp_path / "other.db", "--grpc-port", str(listener.grpc_port))
    _assert_refused(result, "OTLP/gRPC", f":{listener.grpc_port}", "in use")
    _still_serving(listener)


# -- T29: a database that cannot be used ---------------------------------------------------------
def test_a_db_whose_folder_is_a_regular_file_exits_non_zero_saying_so(tmp_path: Path) -> None:
    # Works as root too, where chmod would not stop anything.
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    result = _serve_expecting_exit(blocker / "agentwatch.db")
    _assert_refused(result, f"{blocker} exists and is not a directory", "writable directory")
    assert blocker.read_text() == "not a folder"


def _read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can write to: chmod 500 for a normal user, a read-only tmpfs for root.

    Root ignores permission bits, so as root only a read-only mount really says no.
    """
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield folder
        finally:
            folder.chmod(0o700)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"as root, a read-only folder needs a read-only mount: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_db_in_an_unwritable_folder_exits_non_zero_saying_so(tmp_path: Path) -> None:
    for locked in _read_only_folder(tmp_path):
        result = _serve_expecting_exit(locked / "agentwatch.db")
        _assert_refused(result, "writable directory")
        assert list(locked.iterdir()) == []


def test_a_corrupt_db_is_refused_and_left_byte_identical(tmp_path: Path) -> None:
    good, bad = served_and_damaged(tmp_path)
    assert not Path(f"{good}-wal").exists(), "a clean stop leaves everything in the main file"
    assert quick_check_of(bad) != "ok"  # the premise
    before = hashlib.sha256(bad.read_bytes()).hexdigest()

    result = _serve_expecting_exit(bad)

    _assert_refused(result, "quick_check", "will not write", str(bad))
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == before
    assert not Path(f"{bad}-wal").exists() or Path(f"{bad}-wal").stat().st_size == 0


# -- T30: the WAL-reset warning on this machine --------------------------------------------------
def test_the_wal_reset_note_is_in_status_not_on_every_start(tmp_path: Path) -> None:
    version = sqlite3.sqlite_version
    v = tuple(int(p) for p in version.split("."))
    fixed = v >= (3, 51, 3) or (3, 44, 6) <= v < (3, 45) or (3, 50, 7) <= v < (3, 51)
    # written out here rather than asking the function under test
    db = tmp_path / "agentwatch.db"
    srv = start_listener(db)
    status = subprocess.run([sys.executable, "-m", "agentwatch", "status", "--db", str(db)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert srv.stop() == 0
    assert "WAL-reset" not in srv.stderr()  # nothing to act on at every start
    assert ("has the WAL-reset bug fixed in 3.51.3" in status.stdout) is not fixed
    assert ("not affected; nothing to do unless other programs write to this file" in status.stdout) is not fixed


# -- T26: the database locked by another process ---------------------------------------------------
LOCK_HOLD_S = 8.0
ANSWER_BUDGET_S = 5.0  # well inside the exporters' 10 s deadline (RELIABILITY P7)


def _timed_posts(port: int, body: bytes, until: float) -> list[tuple[int, str | None, float]]:
    answers = []
    while time.monotonic() < until:
        started = time.monotonic()
        status, headers, _ = post(port, "/v1/logs", body)
        answers.append((status, headers.get("retry-after"), time.monotonic() - started))
    return answers


def test_a_db_locked_elsewhere_answers_503_retry_after_1_within_budget_then_recovers(
    listener: Listener,
) -> None:
    run = new_run()
    bodies = [log_body(run, req) for req in range(4)]
    locker = hold_exclusive(listener.db, LOCK_HOLD_S)
    # Start no request that could still be waiting when the lock goes (each waits at most ~4 s).
    until = time.monotonic() + LOCK_HOLD_S - ANSWER_BUDGET_S
    with ThreadPoolExecutor(len(bodies) + 1) as pool:
        posts = [pool.submit(_timed_posts, listener.http_port, body, until) for body in bodies]
        grpc_call = pool.submit(_grpc_export_logs, listener.grpc_target, bodies[0])
        answers = [a for f in posts for a in f.result()]
        grpc_code, grpc_took = grpc_call.result()
    assert rows_per_request(listener.db, run) == {}  # nothing acked, nothing stored
    locker.wait(LOCK_HOLD_S + 5)

    assert len(answers) >= len(bodies)
    assert {(status, retry_after) for status, retry_after, _ in answers} == {(503, "1")}
    assert max(took for _, _, took in answers) < ANSWER_BUDGET_S
    assert grpc_code == grpc.StatusCode.UNAVAILABLE and grpc_took < ANSWER_BUDGET_S

    # The same requests, once the lock is gone: stored, each whole and once.
    assert [post(listener.http_port, "/v1/logs", body)[0] for body in bodies] == [200] * len(bodies)
    assert rows_per_request(listener.db, run) == {req: RECORDS_PER_REQUEST for req in range(len(bodies))}


def _grpc_export_logs(target: str, body: bytes) -> tuple[grpc.StatusCode, float]:
    started = time.monotonic()
    with grpc.insecure_channel(target) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")
        try:
            export(body, timeout=10)
            code = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            code = exc.code()
    return code, time.monotonic() - started


def test_the_official_http_exporter_retries_through_a_short_lock_and_succeeds(listener: Listener) -> None:
    collected = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": f"sdk-{new_run()}"}))
    provider.add_span_processor(SimpleSpanProcessor(collected))
    tracer = provider.get_tracer("agentwatch.tests")
    for i in range(5):
        with tracer.start_as_current_span(f"locked {i}"):
            pass
    spans = collected.get_finished_spans()
    exporter = OTLPSpanExporter(endpoint=f"{listener.http_url}/v1/traces", timeout=10)

    locker = hold_exclusive(listener.db, 3.0)
    started = time.monotonic()
    result = exporter.export(spans)
    took = time.monotonic() - started
    locker.wait(10)
    exporter.shutdown()

    assert result == SpanExportResult.SUCCESS
    assert took >= 2.0, "the first attempt should have met the lock (and been answered 503)"
    assert took < 10.0
    assert listener.count("spans") == 5
    listener.stop()
    log = listener.stderr()
    assert "answering 503 until it clears: database is locked" in log
    assert "database writable again" in log


# -- T28, end to end: a real full file system ------------------------------------------------------
SMALL_DISK = "2m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, where ENOSPC is real (needs root and permission to mount)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True, text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_file_system_answers_503_stores_nothing_partial_and_resumes(small_disk: Path) -> None:
    db = small_disk / "agentwatch.db"
    srv = start_listener(db)
    try:
        filler = small_disk / "filler"
        filler.write_bytes(bytes(shutil.disk_usage(small_disk).free - 256 * 1024))
        run = new_run()
        answers: dict[int, tuple[int, str | None]] = {}
        for req in range(100):
            body = log_request(run, req, records=50, body_chars=500).SerializeToString()
            status, headers, _ = post(srv.http_port, "/v1/logs", body)
            answers[req] = (status, headers.get("retry-after"))
            if status != 200:
                break
        full = max(answers)
        assert answers[full] == (503, "1"), answers[full]
        assert full >= 1, "some requests should fit before the disk fills"
        assert rows_per_request(db, run) == {r: 50 for r, (s, _) in answers.items() if s == 200}

        filler.unlink()  # space comes back; nothing is restarted
        for req in (full, full + 1):
            body = log_request(run, req, records=50, body_chars=500).SerializeToString()
            assert post(srv.http_port, "/v1/logs", body)[0] == 200
        assert rows_per_request(db, run) == {r: 50 for r in range(full + 2)}
    finally:
        code = srv.stop()
    assert code == 0
    assert integrity(db) == "ok"


# -- issue 9 item 5: never acknowledge what goes nowhere ------------------------------------------
def _status(db: Path) -> tuple[int, dict]:
    out = subprocess.run(
        [sys.executable, "-m", "agentwatch", "status", "--json", "--db", str(db)],
        capture_output=True, text=True, timeout=REFUSAL_TIMEOUT_S,
    )  # fmt: skip
    return out.returncode, json.loads(out.stdout)


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_database_deleted_or_replaced_under_serve_is_answered_503_not_acknowledged(
    listener: Listener, tmp_path: Path, how: str
) -> None:
    db = listener.db
    assert post(listener.http_port, "/v1/logs", log_body(new_run(), 1))[0] == 200
    if how == "deleted":
        for name in (db.name, db.name + "-wal", db.name + "-shm"):
            (db.parent / name).unlink(missing_ok=True)
    else:
        copy = tmp_path / "copy.db"
        shutil.copyfile(db, copy)
        os.replace(copy, db)
    # Before the fix, both were 200 and the records went into the unlinked file.
    for _ in range(3):
        status, headers, _ = post(listener.http_port, "/v1/logs", log_body(new_run(), 1))
        assert (status, headers.get("retry-after")) == (503, "1")
    with grpc.insecure_channel(listener.grpc_target) as channel:
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

        stub = logs_service_pb2_grpc.LogsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Export(logs_service_pb2.ExportLogsServiceRequest.FromString(log_body(new_run(), 1)), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    code, report = _status(db)
    assert code == 1 and "deleted or replaced" in report["error"], report
    assert report["listener"]["running"] is True
    listener.stop()
    # Said once in the log, not once per refused request.
    assert listener.stderr().count("was deleted or replaced") == 1, listener.stderr()
