"""The official OpenTelemetry Python SDK exporters (HTTP protobuf and gRPC) against a real listener.

Each test emits a known number of records and flushes; the exporter's
force_flush returns only after the listener acknowledged, and it acknowledges
only after COMMIT, so the rows must be readable the moment it returns.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.listener import Listener, query
from support.sdk import GRPC, HTTP, LOGS, SERIES, SPANS, emit_all, emit_logs, emit_spans


def _endpoint(srv: Listener, transport: str, host: str = "127.0.0.1") -> str:
    if transport == "http":
        return f"http://{host}:{srv.http_port}"
    return f"{host}:{srv.grpc_port}"


SDK_SCRIPT = Path(__file__).resolve().parent / "support" / "sdk.py"


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_sdk_exporters_store_every_record(listener: Listener, transport: str) -> None:
    emit_all(transport, _endpoint(listener, transport), "sdk-test")
    assert listener.count("log_records") == LOGS
    assert listener.count("spans") == SPANS
    # One cumulative export of a counter with 7 attribute sets = 7 points, values 1..7.
    values = query(listener.db, "SELECT value FROM metric_points WHERE name = 'test.requests' ORDER BY value")
    assert [v for (v,) in values] == [1, 2, 3, 4, 5, 6, 7]
    totals = query(listener.db, "SELECT signal, rows FROM agent_totals WHERE agent = 'sdk-test' ORDER BY signal")
    assert totals == [("logs", LOGS), ("metrics", SERIES), ("traces", SPANS)]


def test_log_bodies_times_and_attributes_arrive_intact(listener: Listener) -> None:
    emit_logs(HTTP["logs"](_endpoint(listener, "http")), "sdk-test", n=3)
    rows = query(
        listener.db,
        "SELECT body, severity_number, json_extract(attributes, '$.i'), time_ns > 0 "
        "FROM log_records ORDER BY json_extract(attributes, '$.i')",
    )
    # The SDK sets no timestamp on these records, only observed time, which we fall back to.
    assert rows == [('"event 0"', 9, 0, 1), ('"event 1"', 9, 1, 1), ('"event 2"', 9, 2, 1)]


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_ipv6_localhost_clients_are_served(listener: Listener, transport: str) -> None:
    # Node ≥ 17 resolves localhost to ::1 first; Claude Code and Gemini CLI are Node programs.
    host = "[::1]"
    make = HTTP if transport == "http" else GRPC
    emit_spans(make["traces"](_endpoint(listener, transport, host)), "v6", n=5)
    assert listener.count("spans") == 5


def test_concurrent_exporter_processes_lose_nothing(listener: Listener) -> None:
    # T24 in small: 6 exporter processes, 3 signals each, both transports at once.
    procs = []
    for i in range(6):
        transport = "http" if i % 2 == 0 else "grpc"
        args = [sys.executable, str(SDK_SCRIPT), transport, _endpoint(listener, transport), f"p{i}"]
        procs.append(subprocess.Popen(args))
    for p in procs:
        assert p.wait(120) == 0
    assert listener.count("log_records") == 6 * LOGS
    assert listener.count("spans") == 6 * SPANS
    assert listener.count("metric_points") == 6 * SERIES
