"""A client that gives up (a gRPC deadline, a cancelled call) must not stop the writer.

Found in review: the writer's future was cancelled under it, its next
set_result raised, and the writer thread died, so every later request hung.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from support import rawhttp
from support.db_lock import hold_exclusive
from support.listener import start_listener
from support.otlp_build import simple_logs
from support.replay import GRPC_METHODS


def _export(port: int, body: bytes, timeout: float) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        channel.unary_unary(GRPC_METHODS["logs"])(body, timeout=timeout)


def test_a_call_that_times_out_while_the_database_is_locked_leaves_the_writer_working(tmp_path: Path) -> None:
    srv = start_listener(tmp_path / "c.db")
    try:
        locker = hold_exclusive(srv.db, 1.0)  # under the 2 s busy timeout: the writer waits, then commits
        with pytest.raises(grpc.RpcError) as gave_up:
            _export(srv.grpc_port, simple_logs(3, tag="impatient"), timeout=0.5)
        assert gave_up.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        locker.wait(10)
        # The writer is still alive: both transports are served and stored.
        _export(srv.grpc_port, simple_logs(4, tag="after grpc"), timeout=10)
        assert rawhttp.post(srv.http_port, "/v1/logs", simple_logs(5, tag="after http")).status == 200
        # The impatient 3 were still committed once the lock cleared (the caller had gone;
        # its retry would be recognised as a re-send): 3 + 4 + 5.
        assert srv.count("log_records") == 3 + 4 + 5
    finally:
        srv.stop()
    assert "InvalidStateError" not in srv.stderr()


def test_many_cancelled_large_calls_then_a_normal_one(tmp_path: Path) -> None:
    srv = start_listener(tmp_path / "m.db")
    try:
        big = simple_logs(20_000, tag="big")  # long enough to build that a 50 ms deadline expires
        for _ in range(5):
            with pytest.raises(grpc.RpcError):
                _export(srv.grpc_port, big, timeout=0.05)
        _export(srv.grpc_port, simple_logs(2, tag="normal"), timeout=10)
        assert srv.count("log_records") in (2, 20_002)  # the big one may have committed before its caller left
    finally:
        srv.stop()
    assert "InvalidStateError" not in srv.stderr()
