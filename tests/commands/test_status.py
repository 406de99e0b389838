"""`agentwatch status` (text and --json) next to a running `agentwatch serve`, with no db at all,
and with a --db that is not an agentwatch database (an error, exit 1, with no hint beside it);
the hint names the listener that is running."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Gauge,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from agentwatch.store import schema
from agentwatch.store.connect import open_writer

from cli_run import agentwatch, foreign_sqlite
from support.listener import start_listener
from support.tagged import log_request, new_run, post

REPORT_KEYS = {"db", "db_bytes", "sqlite_version", "sqlite_wal_reset_bug", "listener", "agents"}
AGENT_KEYS = {"agent", "logs", "metric_points", "spans", "last_received"}
NS = 1_760_000_000_000_000_000


def _resource(service: str) -> Resource:
    return Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))])


def _gauge(service: str, points: int) -> bytes:
    metric = Metric(
        name="probe.gauge",
        gauge=Gauge(data_points=[NumberDataPoint(time_unix_nano=NS + i, as_int=i) for i in range(points)]),
    )
    request = ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(resource=_resource(service), scope_metrics=[ScopeMetrics(metrics=[metric])])
        ]
    )
    return request.SerializeToString()


def _spans(service: str, spans: int) -> bytes:
    items = [
        Span(trace_id=bytes(15) + bytes([1]), span_id=bytes(7) + bytes([i + 1]), name="probe",
             start_time_unix_nano=NS, end_time_unix_nano=NS + 1000)
        for i in range(spans)
    ]
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=_resource(service), scope_spans=[ScopeSpans(spans=items)])]
    )
    return request.SerializeToString()


def _status(db: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    # --db after the subcommand, as a user types it.
    return subprocess.run(
        [sys.executable, "-m", "agentwatch", "status", *flags, "--db", str(db)],
        capture_output=True, text=True, timeout=30,
    )


def _status_json(db: Path) -> dict[str, Any]:
    result = _status(db, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _send_known_requests(port: int) -> None:
    """claude-code: 3 log records, 2 metric points, 1 span; codex (codex_exec): 4 log records."""
    run = new_run()
    sends = [
        ("/v1/logs", log_request(run, 1, records=3, service="claude-code").SerializeToString()),
        ("/v1/metrics", _gauge("claude-code", 2)),
        ("/v1/traces", _spans("claude-code", 1)),
        ("/v1/logs", log_request(run, 2, records=4, service="codex_exec").SerializeToString()),
    ]
    assert [post(port, path, body)[0] for path, body in sends] == [200] * len(sends)


EXPECTED_COUNTS = [
    {"agent": "claude-code", "logs": 3, "metric_points": 2, "spans": 1},
    {"agent": "codex", "logs": 4, "metric_points": 0, "spans": 0},
]


def _within(iso: str, start: float, end: float) -> bool:
    when = datetime.fromisoformat(iso)
    assert when.tzinfo is not None and when.utcoffset().total_seconds() == 0
    return math.floor(start) <= when.timestamp() <= math.ceil(end)


def test_status_json_shows_the_running_listener_and_hand_counted_rows(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    srv = start_listener(db)
    try:
        started = time.time()
        _send_known_requests(srv.http_port)
        ended = time.time()
        report = _status_json(db)
    finally:
        srv.stop()

    assert set(report) == REPORT_KEYS
    assert report["db"] == str(db)
    assert isinstance(report["db_bytes"], int) and report["db_bytes"] > 0
    assert report["sqlite_version"] == sqlite3.sqlite_version
    assert report["listener"] == {
        "running": True, "pid": srv.proc.pid, "http_port": srv.http_port,
        "grpc_port": srv.grpc_port, "keep_content": False,
    }
    agents = report["agents"]
    assert all(set(a) == AGENT_KEYS for a in agents)
    assert [{k: a[k] for k in AGENT_KEYS - {"last_received"}} for a in agents] == EXPECTED_COUNTS
    assert all(_within(a["last_received"], started, ended) for a in agents)

    # Stopped: the counts stay, the listener is reported gone.
    after = _status_json(db)
    assert after["listener"] == {
        "running": False, "pid": None, "http_port": None, "grpc_port": None, "keep_content": None,
    }
    assert after["agents"] == agents


def test_status_text_shows_the_listener_ports_and_a_line_per_agent(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    srv = start_listener(db)
    try:
        _send_known_requests(srv.http_port)
        result = _status(db)
    finally:
        srv.stop()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"listener  running (pid {srv.proc.pid}, http {srv.http_port}, grpc {srv.grpc_port})" in lines
    assert any(line.startswith(f"database  {db} (") for line in lines)
    rows = {
        line.split()[0]: line.split()[1:] for line in lines if line.startswith(("claude-code ", "codex "))
    }
    assert {agent: cells[:3] for agent, cells in rows.items()} == {
        "claude-code": ["3", "2", "1"],
        "codex": ["4", "0", "0"],
    }
    for cells in rows.values():
        datetime.fromisoformat(cells[3])  # last received, ISO 8601


def test_status_without_a_db_says_so_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "not" / "yet" / "agentwatch.db"

    text = _status(db)
    report = _status_json(db)

    assert text.returncode == 0, text.stderr
    assert f"database  {db} (not created yet)" in text.stdout
    assert "listener  not running" in text.stdout
    assert "No telemetry received yet" in text.stdout
    assert report == {
        "db": str(db),
        "db_bytes": None,
        "sqlite_version": sqlite3.sqlite_version,
        "sqlite_wal_reset_bug": report["sqlite_wal_reset_bug"],  # the machine's; tested in test_serve_lifecycle
        "listener": {
            "running": False, "pid": None, "http_port": None, "grpc_port": None, "keep_content": None,
        },
        "agents": [],
    }
    assert list(tmp_path.iterdir()) == []  # not the db, not its folder, not a lock file


EVIL = "evil\x1b]52;c;AAAA\x07\x1b[2J"  # OSC 52 sets the clipboard, CSI 2J clears the screen


def test_an_agent_name_with_escape_sequences_reaches_the_terminal_harmless(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    srv = start_listener(db)
    try:
        request = log_request(new_run(), 1, records=2, service=EVIL + "x" * 100)
        assert post(srv.http_port, "/v1/logs", request.SerializeToString())[0] == 200
        report = _status_json(db)
        text = _status(db)
    finally:
        srv.stop()
    # ESC and BEL became "?", and the label stops at 64 characters: 20 of EVIL (4+1+10+1+1+3), then 44 x's.
    assert [a["agent"] for a in report["agents"]] == ["evil?]52;c;AAAA??[2J" + "x" * 44]
    assert text.returncode == 0, text.stderr
    assert "\x1b" not in text.stdout and "\x07" not in text.stdout


def test_status_text_escapes_control_characters_in_names_already_stored(tmp_path: Path) -> None:
    # A row written before names were made printable (or by any path that forgets to).
    db = tmp_path / "agentwatch.db"
    conn = open_writer(db)
    schema.migrate(conn)
    conn.execute("INSERT INTO agent_totals VALUES (?, 'logs', 5, ?)", (EVIL, NS))
    conn.close()

    text = _status(db)
    raw = _status(db, "--json")

    assert text.returncode == 0, text.stderr
    assert "\x1b" not in text.stdout and "\x07" not in text.stdout
    row = next(line for line in text.stdout.splitlines() if line.startswith("evil"))
    assert row.split()[:2] == [r"evil\x1b]52;c;AAAA\x07\x1b[2J", "5"]
    # JSON escapes control characters itself, and a reader gets the stored name back.
    assert "\x1b" not in raw.stdout
    assert [a["agent"] for a in json.loads(raw.stdout)["agents"]] == [EVIL]


def _bad(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A --db that is not an agentwatch database, and the error status must print for it."""
    db = tmp_path / "other.db"
    if kind == "directory":
        db.mkdir()
        return db, f"{db} is a directory, not a database file (pass --db with the path of a file)"
    if kind == "empty":
        db.write_bytes(b"")
        return db, f"{db} is empty, not an agentwatch database (`agentwatch serve` makes it one)"
    if kind == "text":
        db.write_text("not a database\n")
        return db, f"{db} is not an agentwatch database (not an SQLite file); agentwatch leaves it as it is"
    foreign_sqlite(db)
    return db, (
        f"{db} is not an agentwatch database (an SQLite file with other tables); agentwatch leaves "
        "it as it is: pass --db with another file"
    )


@pytest.mark.parametrize("kind", ["directory", "empty", "text", "foreign sqlite"])
def test_status_on_an_unusable_database_prints_the_error_not_no_telemetry(tmp_path: Path, kind: str) -> None:
    db, error = _bad(tmp_path, kind)
    text = agentwatch(tmp_path, "status", "--db", str(db))
    assert text.returncode == 1
    assert f"error     {error}" in text.stdout.splitlines()
    assert "No telemetry received yet" not in text.stdout
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in text.stdout
    raw = agentwatch(tmp_path, "status", "--json", "--db", str(db))
    assert raw.returncode == 1
    report = json.loads(raw.stdout)
    assert report["error"] == error
    assert report["agents"] == []
    if kind == "directory":
        assert report["db_bytes"] is None  # a directory's size is not a database's
        assert f"database  {db} (unusable)" in text.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no lock file beside it


def test_no_telemetry_names_the_running_listeners_ports(tmp_path: Path) -> None:
    db = tmp_path / "agentwatch.db"
    srv = start_listener(db)  # ephemeral ports, never 4318
    try:
        out = agentwatch(tmp_path, "status", "--db", str(db))
    finally:
        srv.stop()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "No telemetry received yet." in lines
    assert f"`agentwatch serve` is running on this database (gRPC: port {srv.grpc_port}); point an agent at it:" in lines
    assert f"  export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:{srv.http_port}" in lines
    assert "4318" not in out.stdout


def test_no_listener_says_start_one_on_the_default_port(tmp_path: Path) -> None:
    db = tmp_path / "never" / "agentwatch.db"
    out = agentwatch(tmp_path, "status", "--db", str(db))
    # A database not created yet is status's normal first answer, not an error.
    assert out.returncode == 0, out.stderr
    assert f"database  {db} (not created yet)" in out.stdout
    assert "No `agentwatch serve` is running on this database. Start it, then point an agent at it:" in out.stdout
    assert "  export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318" in out.stdout.splitlines()
    assert not (tmp_path / "never").exists()


def test_an_unknown_flag_shows_the_status_usage(tmp_path: Path) -> None:
    out = agentwatch(tmp_path, "status", "--jsn")
    assert out.returncode == 2
    assert out.stderr.splitlines()[0].startswith("usage: agentwatch status ")
    assert out.stderr.splitlines()[-1] == "agentwatch status: error: unrecognized arguments: --jsn"
