"""RowWorkers on its own: none at start, one started by the first call, the same rows as in-process, retired when idle.

Real worker processes (`python -m agentwatch.receive.row_worker`) on pipes; the
idle limit is shortened so retirement shows within a test.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentwatch.normalise.otlp_view import ViewPolicy
from agentwatch.receive.decode import DecodeError, Encoding
from agentwatch.receive.row_worker import build_batch
from agentwatch.receive.workers import RowWorkers
from agentwatch.records import Signal
from support.tagged import log_request, new_run

RECEIVED_NS = 1_700_000_000_000_000_000


def test_a_worker_starts_on_demand_builds_the_same_rows_and_retires_when_idle() -> None:
    body = log_request(new_run(), 0, 50).SerializeToString()
    args = (Signal.LOGS, Encoding.PROTOBUF, body, "http", RECEIVED_NS, ViewPolicy())

    async def scenario() -> None:
        workers = RowWorkers(1, idle_s=1.0)
        try:
            assert await workers.build(*args) is None  # none running yet: this one starts it
            for _ in range(100):
                if workers.pids:
                    break
                await asyncio.sleep(0.1)
            (pid,) = workers.pids
            batch = await workers.build(*args)
            assert batch == build_batch(*args)  # 50 records, built as in-process would
            assert batch is not None and batch.records == 50
            with pytest.raises(DecodeError):
                await workers.build(Signal.LOGS, Encoding.PROTOBUF, body[:-7], "http", RECEIVED_NS, ViewPolicy())
            await asyncio.sleep(3.0)  # idle for 1 s, then stopped
            assert workers.pids == () and not Path(f"/proc/{pid}").exists()  # it exited at end of input
            assert workers.enabled  # retired, not broken: the next busy spell starts one again
        finally:
            await workers.aclose()

    asyncio.run(scenario())
