"""The embeddable Listener inside a running asyncio loop, next to other work, as a TUI would run it.

The official OpenTelemetry SDK exporters (tests/support/sdk.py) run on threads
of the same process and talk to the listener over real sockets; a counter task
on the loop must keep ticking throughout, and once the context is left every
record the exporters had acknowledged must be in the database.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExportResult
from opentelemetry.sdk.trace.export import SpanExportResult

from agentwatch.config import ServeSettings
from agentwatch.listener import Listener, Running, StartupError
from agentwatch.paths import lock_path
from support.listener import query
from support.sdk import GRPC, HTTP, LOGS, SERIES, SPANS, emit_logs, emit_metrics, emit_spans

TICK_S = 0.01
SUCCESS = (LogRecordExportResult.SUCCESS, SpanExportResult.SUCCESS, MetricExportResult.SUCCESS)


class Counted:
    """An SDK exporter that counts the items of every export the listener acknowledged."""

    def __init__(self, exporter: Any) -> None:
        self._exporter = exporter
        self.acked = 0

    def export(self, batch: Any, *args: Any, **kwargs: Any) -> Any:
        result = self._exporter.export(batch, *args, **kwargs)
        if result in SUCCESS:
            self.acked += _items(batch)
        return result

    def __getattr__(self, name: str) -> Any:  # shutdown, force_flush, preferred temporality, ...
        return getattr(self._exporter, name)


def _items(batch: Any) -> int:
    if hasattr(batch, "resource_metrics"):  # MetricsData: its data points
        return sum(
            len(metric.data.data_points)
            for rm in batch.resource_metrics for sm in rm.scope_metrics for metric in sm.metrics
        )
    return len(batch)  # log records or spans


def _export_everything(running: Running) -> dict[str, int]:
    """Logs, spans and metrics over both transports, each transport its own service; acked items."""
    endpoints = {"http": (HTTP, f"http://127.0.0.1:{running.http_port}"), "grpc": (GRPC, f"127.0.0.1:{running.grpc_port}")}
    acked = {"logs": 0, "traces": 0, "metrics": 0}
    for transport, (make, endpoint) in endpoints.items():
        service = f"embedded-{transport}"
        for signal, emit in (("logs", emit_logs), ("traces", emit_spans), ("metrics", emit_metrics)):
            exporter = Counted(make[signal](endpoint))
            emit(exporter, service)
            acked[signal] += exporter.acked
    return acked


async def _tick(ticks: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        ticks.append(time.monotonic())
        await asyncio.sleep(TICK_S)


def _largest_gap(ticks: list[float]) -> float:
    return max(b - a for a, b in zip(ticks, ticks[1:]))


def test_the_listener_runs_beside_another_task_and_stores_every_acknowledged_record(tmp_path: Path) -> None:
    db = tmp_path / "embedded.db"
    ticks: list[float] = []

    async def scenario() -> tuple[Running, dict[str, int], tuple[float, float]]:
        stop = asyncio.Event()
        ticker = asyncio.create_task(_tick(ticks, stop))
        async with Listener(ServeSettings(db=db, http_port=0, grpc_port=0)) as running:
            # The exporters block; on a thread they leave the loop free to serve them.
            started = time.monotonic()
            acked = await asyncio.to_thread(_export_everything, running)
            exporting = (started, time.monotonic())
        stop.set()
        await ticker
        return running, acked, exporting

    running, acked, (started, ended) = asyncio.run(scenario())

    # Per transport: 250 log records, 120 spans, 7 points (one cumulative export of 7 series); two transports.
    assert acked == {"logs": 2 * LOGS, "traces": 2 * SPANS, "metrics": 2 * SERIES} == {"logs": 500, "traces": 240, "metrics": 14}
    assert query(db, "SELECT count(*) FROM log_records") == [(500,)]
    assert query(db, "SELECT count(*) FROM spans") == [(240,)]
    assert query(db, "SELECT count(*) FROM metric_points") == [(14,)]
    assert query(db, "SELECT agent, signal, rows FROM agent_totals ORDER BY agent, signal") == [
        ("embedded-grpc", "logs", 250), ("embedded-grpc", "metrics", 7), ("embedded-grpc", "traces", 120),
        ("embedded-http", "logs", 250), ("embedded-http", "metrics", 7), ("embedded-http", "traces", 120),
    ]
    # The loop kept turning while the exports ran (however long they took: a tick every
    # 10 ms asked, at least a tenth of them seen), and never stalled for long.
    ticked = sum(1 for t in ticks if started <= t <= ended)
    assert ticked >= max(3, 0.1 * (ended - started) / TICK_S), (ticked, ended - started)
    assert _largest_gap(ticks) < 1.0
    # Ports 0 became real, distinct ports, both on the default loopback addresses.
    assert running.http_port > 0 and running.grpc_port > 0 and running.http_port != running.grpc_port
    assert "127.0.0.1" in running.hosts


def test_ports_0_are_bound_ports_that_take_connections_and_are_released_on_leaving(tmp_path: Path) -> None:
    async def scenario() -> Running:
        async with Listener(ServeSettings(db=tmp_path / "p.db", http_port=0, grpc_port=0, workers=0)) as running:
            for port in (running.http_port, running.grpc_port):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
        return running

    running = asyncio.run(scenario())
    for port in (running.http_port, running.grpc_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_equal_http_and_grpc_ports_are_refused_naming_both_flags_and_touch_nothing(tmp_path: Path) -> None:
    db = tmp_path / "same.db"

    async def scenario() -> None:
        async with Listener(ServeSettings(db=db, http_port=4999, grpc_port=4999)):
            pass

    with pytest.raises(StartupError, match="--http-port and --grpc-port are both 4999"):
        asyncio.run(scenario())
    assert not db.exists() and not lock_path(db).exists()
