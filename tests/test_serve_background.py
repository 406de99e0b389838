"""serve's background pieces: retention that outlives a bad round, and IPv6-less loopback."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentwatch.listener import _prune_forever
from agentwatch.store.retention import RetentionPolicy
from support.db_lock import hold_exclusive
from support.listener import query
from support.writer_kit import running_writer, tagged_batch

DAY_NS = 86_400 * 10**9


def test_retention_keeps_running_after_a_round_fails_on_a_locked_database(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with running_writer(db) as writer:
        old = time.time_ns() - 40 * DAY_NS  # older than the 30-day default
        writer.submit(tagged_batch("old", 1, received_ns=old)).result(10)
        writer.submit(tagged_batch("new", 2)).result(10)
        locker = hold_exclusive(db, 3.0)  # the first rounds hit "database is locked"

        async def run() -> None:
            task = asyncio.create_task(_prune_forever(writer, RetentionPolicy(), every_s=0.5))
            await asyncio.sleep(6.0)
            task.cancel()

        asyncio.run(run())
        locker.wait(10)
    # 20 records per tagged batch: the old batch went once the lock cleared, the new one stayed.
    assert query(db, "SELECT count(*) FROM log_records") == [(20,)]


def _unshare_available() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_available(), reason="needs unshare -n (root) and iproute2 to make an IPv6-less loopback")
def test_serve_starts_on_127_0_0_1_alone_where_loopback_has_no_ipv6(tmp_path: Path) -> None:
    script = (
        "sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 && ip link set lo up && "
        f"timeout 8 {sys.executable} -m agentwatch serve --http-port 0 --grpc-port 0 --db {tmp_path}/v6.db"
    )
    done = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, text=True, timeout=30)
    assert "listening http=" in done.stdout, done.stderr
    assert "IPv6 loopback (::1) is not available; listening on 127.0.0.1 only" in done.stderr
