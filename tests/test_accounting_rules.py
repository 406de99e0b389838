"""Issue 4's accounting rules that the captured fixtures do not exercise, end to end.

Every test sends Claude Code-shaped telemetry to a real `agentwatch serve` (a
subprocess) and reads the figures back with the real `agentwatch summary --json`
(or `sessions --json`) CLI. Telemetry is built with the OpenTelemetry SDK (its
MeterProvider/LoggerProvider and OTLP/HTTP exporters) where the SDK's own behaviour
is the point (cumulative start times per process, delta vs cumulative preference,
an exporter that outlives an agentwatch restart), and with the OTLP protobuf classes
where a test needs exact times, start times and values (a reset within one process,
records either side of midnight, a re-sent batch).

Claude's shape (tests/fixtures/AGENT-TELEMETRY.md §1): resource service.name=claude-code;
metrics in scope com.anthropic.claude_code, all monotonic sums with session.id on the
point; events as log records in scope com.anthropic.claude_code.events with
body "claude_code.<event>" and attribute event.name=<event>.

Every expected figure is written by hand with its arithmetic beside it. Token
convention (ours, GenAI): input_tokens = Claude's input + cache_read + cache_creation.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from google.protobuf.message import Message
from opentelemetry._logs import LogRecord as SdkLogRecord
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    AGGREGATION_TEMPORALITY_DELTA,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource as SdkResource
from support.accounting import cli_json, figures, summary_json
from support.listener import Listener, query, start_listener
from support.otlp_build import key_values

# -- expected figures ------------------------------------------------------------------
# The 15 measures of issue 4's JSON shape, written out (not imported): every test
# compares all 16 figures of a row, so a figure that should be — and shows 0 is caught.
NULLS: dict[str, Any] = {
    "requests": None,
    "errors": None,
    "input_tokens": None,
    "output_tokens": None,
    "cache_read_tokens": None,
    "cache_write_tokens": None,
    "reasoning_tokens": None,
    "cost_usd": None,
    "lines_added": None,
    "lines_removed": None,
    "commits": None,
    "pull_requests": None,
    "tool_calls": None,
    "tool_accepted": None,
    "tool_rejected": None,
}


def expect(sessions: int, **known: Any) -> dict[str, Any]:
    """A row's 16 figures: the ones given, — for every other."""
    unknown = set(known) - set(NULLS)
    assert not unknown, unknown
    out = {"sessions": sessions, **NULLS, **known}
    if out["cost_usd"] is not None:
        out["cost_usd"] = pytest.approx(out["cost_usd"])
    return out


def measures(**known: Any) -> dict[str, Any]:
    """The 15 measures of a `sessions --json` row: the ones given, — for every other."""
    return {k: v for k, v in expect(1, **known).items() if k != "sessions"}


def measures_of(session_row: dict[str, Any]) -> dict[str, Any]:
    return {k: session_row[k] for k in NULLS}


def agent_row(summary: dict[str, Any], agent: str = "claude-code") -> dict[str, Any]:
    rows = [r for r in summary["by_agent"] if r["agent"] == agent]
    assert len(rows) == 1, summary["by_agent"]
    return figures(rows[0])


# -- OTLP protobuf, for exact times and values ---------------------------------------------
DELTA, CUMULATIVE = AGGREGATION_TEMPORALITY_DELTA, AGGREGATION_TEMPORALITY_CUMULATIVE  # 1, 2
CLAUDE_METRICS = "com.anthropic.claude_code"
CLAUDE_EVENTS = "com.anthropic.claude_code.events"
S = 10**9
MIN = 60 * S
OPUS = "claude-opus-4-8"


def at(text: str) -> int:
    """Unix nanoseconds of an ISO time written with its offset (whole seconds)."""
    return int(datetime.fromisoformat(text).timestamp()) * S


T0 = at("2026-11-23T10:00:00+00:00")  # midday UTC: every zone tested below still calls it the 23rd



def resource(service: str = "claude-code", **extra: str) -> Resource:
    return Resource(attributes=key_values({"service.name": service, "service.version": "2.1.197", **extra}))


def point(value: float, start: int, end: int, attributes: dict[str, Any]) -> NumberDataPoint:
    # Claude's sums are doubles on the wire, tokens included.
    return NumberDataPoint(
        as_double=float(value), start_time_unix_nano=start, time_unix_nano=end, attributes=key_values(attributes)
    )


def counter(name: str, temporality: Any, *points: NumberDataPoint) -> Metric:
    return Metric(name=name, sum=Sum(data_points=points, aggregation_temporality=temporality, is_monotonic=True))


def metrics_body(*metrics: Metric) -> ExportMetricsServiceRequest:
    scope = InstrumentationScope(name=CLAUDE_METRICS, version="2.1.197")
    return ExportMetricsServiceRequest(
        resource_metrics=[ResourceMetrics(resource=resource(), scope_metrics=[ScopeMetrics(scope=scope, metrics=metrics)])]
    )


def event(name: str, time_ns: int, attributes: dict[str, Any], observed_ns: int = 0) -> LogRecord:
    return LogRecord(
        time_unix_nano=time_ns,
        observed_time_unix_nano=observed_ns,
        body=AnyValue(string_value=f"claude_code.{name}"),
        attributes=key_values({"event.name": name, **attributes}),
    )


def logs_body(*records: LogRecord, service: str = "claude-code", scope: str = CLAUDE_EVENTS) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=resource(service),
                scope_logs=[ScopeLogs(scope=InstrumentationScope(name=scope), log_records=records)],
            )
        ]
    )


def api_request(session: str, input: int, output: int, cost: float | None = None, model: str = OPUS, **more: Any) -> dict[str, Any]:
    """An api_request event's attributes (Claude's own additive token figures)."""
    attrs = {"session.id": session, "model": model, "input_tokens": input, "output_tokens": output,
             "cache_read_tokens": 0, "cache_creation_tokens": 0, "duration_ms": 900, **more}  # fmt: skip
    if cost is not None:
        attrs["cost_usd"] = cost
    return attrs


def post(listener: Listener, signal: str, body: Message | bytes, content_type: str = "application/x-protobuf") -> None:
    data = body if isinstance(body, bytes) else body.SerializeToString()
    request = urllib.request.Request(
        f"{listener.http_url}/v1/{signal}", data=data, headers={"Content-Type": content_type}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 200


# -- the OpenTelemetry SDK, as a Claude process uses it -----------------------------------
CLAUDE_SDK = SdkResource.create({"service.name": "claude-code", "service.version": "2.1.197"})
TEMPORALITY = {"delta": AggregationTemporality.DELTA, "cumulative": AggregationTemporality.CUMULATIVE}


class ClaudeProcess:
    """One Claude Code process's SDK: its own MeterProvider (so its own cumulative start
    times, as a new process has) and LoggerProvider, exporting OTLP/HTTP protobuf."""

    def __init__(self, http_url: str, temporality: str = "cumulative") -> None:
        exporter = OTLPMetricExporter(
            endpoint=f"{http_url}/v1/metrics", preferred_temporality={Counter: TEMPORALITY[temporality]}
        )
        # Exports only when told to (export()), never on a timer, so each test knows its points.
        self.reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
        self.meters = MeterProvider(resource=CLAUDE_SDK, metric_readers=[self.reader])
        meter = self.meters.get_meter(CLAUDE_METRICS, "2.1.197")
        self.tokens = meter.create_counter("claude_code.token.usage", unit="tokens")
        self.cost = meter.create_counter("claude_code.cost.usage", unit="USD")
        self.lines = meter.create_counter("claude_code.lines_of_code.count")
        self.starts = meter.create_counter("claude_code.session.count")
        self.logs = LoggerProvider(resource=CLAUDE_SDK)
        self.logs.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{http_url}/v1/logs")))
        self.events = self.logs.get_logger(CLAUDE_EVENTS, "2.1.197")

    def event(self, name: str, attributes: dict[str, Any], observed_ns: int | None = None) -> None:
        # Claude sets the record's time; observed_ns alone leaves timeUnixNano 0 (as Codex sends).
        timestamp = None if observed_ns else time.time_ns()
        self.events.emit(
            SdkLogRecord(
                timestamp=timestamp,
                observed_timestamp=observed_ns,
                body=f"claude_code.{name}",
                attributes={"event.name": name, **attributes},
            )
        )

    def export(self) -> None:
        """Flush both signals; the exporter returns once agentwatch acknowledged (after COMMIT)."""
        assert self.meters.force_flush(15_000)
        assert self.logs.force_flush(15_000)

    def exit(self) -> None:
        # Shutdown exports once more: for a cumulative series, the same totals at a later time.
        self.meters.shutdown()
        self.logs.shutdown()


def today_window() -> tuple[str, str]:
    """Days around now in UTC: the SDK stamps its points with the current time."""
    today = datetime.now(timezone.utc).date()
    return (today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat()


def now_summary(db: Path) -> dict[str, Any]:
    since, until = today_window()
    return summary_json(db, since, until, "UTC")


def sessions_json(db: Path, since: str) -> list[dict[str, Any]]:
    return cli_json(db, "sessions", "--since", since, "--tz", "UTC")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "agentwatch.db"


@pytest.fixture
def served(db: Path) -> Iterator[Listener]:
    srv = start_listener(db)
    yield srv
    srv.stop()
    assert "adapter failed" not in srv.stderr()


# -- 1. cumulative counters across an agent restart ---------------------------------------
def test_a_cumulative_counter_counts_each_agent_process_whole(served: Listener, db: Path) -> None:
    # Two Claude processes of one session (`--continue` keeps the id on the usage points),
    # cumulative temporality: each SDK starts its series at 0 with its own start time, and
    # the series identity (resource, scope, name, attributes) is otherwise the same.
    # Process 2 goes above process 1's last total, so a baseline carried from process 1
    # (300 − 250 = 50) would under-count; a new start time must count whole.
    #   input_tokens  p1: 100, 250   p2: 300, 420    → 250 + 420 = 670
    #   output_tokens p1: 10, 25     p2: 4, 9        → 25 + 9 = 34
    #   cost_usd      p1: 0.5        p2: 0.25, 0.75  → 0.5 + 0.75 = 1.25
    usage = {"session.id": "sess-1", "model": "claude-opus-4-8[1m]"}
    first = ClaudeProcess(served.http_url)
    first.tokens.add(100, {**usage, "type": "input"})
    first.tokens.add(10, {**usage, "type": "output"})
    first.cost.add(0.5, usage)
    first.export()
    first.tokens.add(150, {**usage, "type": "input"})  # total 250
    first.tokens.add(15, {**usage, "type": "output"})  # total 25
    first.export()
    first.exit()  # exports 250, 25, 0.5 again: equal totals add nothing

    second = ClaudeProcess(served.http_url)
    second.tokens.add(300, {**usage, "type": "input"})
    second.tokens.add(4, {**usage, "type": "output"})
    second.cost.add(0.25, usage)
    second.export()
    second.tokens.add(120, {**usage, "type": "input"})  # total 420
    second.tokens.add(5, {**usage, "type": "output"})  # total 9
    second.cost.add(0.5, usage)  # total 0.75
    second.export()
    second.exit()

    # Metrics only: tokens and cost count, requests are — (a metric carries no call count).
    assert agent_row(now_summary(db)) == expect(1, input_tokens=670, output_tokens=34, cost_usd=1.25)


# -- 2. a counter reset within one process ------------------------------------------------
def test_a_counter_reset_within_one_process_counts_from_zero(served: Listener, db: Path) -> None:
    # One process (one start time) whose totals go down: the counter restarted at 0 (an
    # SDK re-created in-process, a wrapped counter). Each export is its own request.
    #   input_tokens  500, 30 (reset), 45   → 500 + 30 + (45 − 30) = 545   (never 500 − 470)
    #   cost_usd      1.0, 0.25 (reset), 0.5 → 1.0 + 0.25 + 0.25 = 1.5
    #   lines added   7, 7, 1 (reset)       → 7 + 0 + 1 = 8
    #   lines removed 3, 8, 2 (reset)       → 3 + (8 − 3) + 2 = 10
    # Claude exports both lines points (added and removed) in every export.
    start = T0
    session = {"session.id": "sess-reset"}
    for minute, (tokens, cost, added, removed) in enumerate([(500, 1.0, 7, 3), (30, 0.25, 7, 8), (45, 0.5, 1, 2)], 1):
        end = T0 + minute * MIN
        body = metrics_body(
            counter("claude_code.token.usage", CUMULATIVE, point(tokens, start, end, {**session, "type": "input", "model": OPUS})),
            counter("claude_code.cost.usage", CUMULATIVE, point(cost, start, end, {**session, "model": OPUS})),
            counter(
                "claude_code.lines_of_code.count",
                CUMULATIVE,
                point(added, start, end, {**session, "type": "added", "model": OPUS}),
                point(removed, start, end, {**session, "type": "removed", "model": OPUS}),
            ),
        )
        post(served, "metrics", body)
    summary = summary_json(db, "2026-11-23", "2026-11-23", "UTC")
    assert agent_row(summary) == expect(1, input_tokens=545, cost_usd=1.5, lines_added=8, lines_removed=10)


# -- 3. an agentwatch restart in the middle of a cumulative series ---------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_agentwatch_restart_mid_series_keeps_the_baseline(db: Path) -> None:
    # One Claude process keeps exporting (cumulative) while agentwatch is restarted on the
    # same database and port. The baseline (last total per series) lives in the database:
    #   exports 100 (agentwatch #1), 180 and 260 (agentwatch #2), then 260 again at exit
    #   input_tokens = 100 + (180 − 100) + (260 − 180) + 0 = 260   (not 100 + 180 + 260: no baseline;
    #   not 160: the first export lost)
    port = _free_port()
    first = start_listener(db, "--http-port", str(port))  # the last --http-port wins
    claude = ClaudeProcess(first.http_url)
    usage = {"session.id": "sess-restart", "model": OPUS, "type": "input"}
    claude.tokens.add(100, usage)
    claude.export()
    assert agent_row(now_summary(db))["input_tokens"] == 100
    first.stop()

    second = start_listener(db, "--http-port", str(port))
    try:
        claude.tokens.add(80, usage)
        claude.export()
        claude.tokens.add(80, usage)
        claude.export()
        claude.exit()
        assert agent_row(now_summary(db)) == expect(1, input_tokens=260)
    finally:
        second.stop()


def test_a_cumulative_batch_resent_after_an_agentwatch_restart_adds_nothing(db: Path) -> None:
    # An exporter retries a batch agentwatch had committed just before it stopped.
    #   exports 100 (t1), the same batch again after the restart, then 160 (t2) → 100 + 60 = 160
    usage = {"session.id": "sess-resend", "model": OPUS, "type": "input"}
    batch = metrics_body(counter("claude_code.token.usage", CUMULATIVE, point(100, T0, T0 + MIN, usage)))
    first = start_listener(db)
    post(first, "metrics", batch)
    first.stop()
    second = start_listener(db)
    try:
        post(second, "metrics", batch)
        post(second, "metrics", metrics_body(counter("claude_code.token.usage", CUMULATIVE, point(160, T0, T0 + 2 * MIN, usage))))
        summary = summary_json(db, "2026-11-23", "2026-11-23", "UTC")
    finally:
        second.stop()
    assert agent_row(summary) == expect(1, input_tokens=160)


# -- 4. delta and cumulative from two processes of one session ---------------------------------
def test_delta_and_cumulative_processes_of_one_session_both_count_once(served: Listener, db: Path) -> None:
    # Process A prefers delta, process B cumulative (two terminals, different settings),
    # both reporting the same session id and model:
    #   A deltas  input 100, then 20           → 120
    #   B totals  input 7, then 12 (+5)         → 12
    #   input_tokens = 120 + 12 = 132; one session
    #   cost: A 0.01 then 0.02 (deltas) = 0.03; B 0.004 then 0.006 (totals) = 0.006 → 0.036
    usage = {"session.id": "sess-mixed", "model": OPUS}
    a = ClaudeProcess(served.http_url, "delta")
    b = ClaudeProcess(served.http_url, "cumulative")
    a.tokens.add(100, {**usage, "type": "input"})
    a.cost.add(0.01, usage)
    b.tokens.add(7, {**usage, "type": "input"})
    b.cost.add(0.004, usage)
    a.export()
    b.export()
    a.tokens.add(20, {**usage, "type": "input"})
    a.cost.add(0.02, usage)
    b.tokens.add(5, {**usage, "type": "input"})
    b.cost.add(0.002, usage)
    a.export()
    b.export()
    a.exit()  # delta: nothing new to export
    b.exit()  # cumulative: the same totals again
    assert agent_row(now_summary(db)) == expect(1, input_tokens=132, cost_usd=0.036)


# -- 5. the same batch sent twice ---------------------------------------------------------
def test_a_delta_metric_batch_and_a_log_batch_sent_twice_count_once(served: Listener, db: Path) -> None:
    # Metrics for session "m" (delta), events for session "e": each request is posted twice
    # (an exporter retry after a lost reply).
    #   metrics: input 100 + cacheRead 40 (part of input) = 140, cache_read 40, output 7,
    #            cost 0.03, lines added 5 (removed point 0)
    #   events:  2 api_request: input (10 + 0 + 0) + (20 + 0 + 0) = 30, output 1 + 2 = 3,
    #            cost 0.001 + 0.002 = 0.003; 1 tool (decision accept + result, one tool_use_id)
    #   totals:  sessions 2, requests 2, errors 0, input 140 + 30 = 170, output 7 + 3 = 10,
    #            cache_read 40 (session e's events carry cache_read 0) → 40 + 0 = 40, cache_write 0,
    #            cost 0.03 + 0.003 = 0.033, lines 5/0, tools 1, accepted 1, rejected 0
    m = {"session.id": "m", "model": OPUS}
    window = (T0, T0 + MIN)
    metrics = metrics_body(
        counter(
            "claude_code.token.usage",
            DELTA,
            point(100, *window, {**m, "type": "input"}),
            point(40, *window, {**m, "type": "cacheRead"}),
            point(7, *window, {**m, "type": "output"}),
        ),
        counter("claude_code.cost.usage", DELTA, point(0.03, *window, m)),
        counter(
            "claude_code.lines_of_code.count",
            DELTA,
            point(5, *window, {**m, "type": "added"}),
            point(0, *window, {**m, "type": "removed"}),
        ),
    )
    logs = logs_body(
        event("api_request", T0 + 1 * S, api_request("e", 10, 1, 0.001)),
        event("api_request", T0 + 2 * S, api_request("e", 20, 2, 0.002)),
        event("tool_decision", T0 + 3 * S, {"session.id": "e", "tool_name": "Bash", "tool_use_id": "toolu_1",
                                            "decision": "accept", "source": "config"}),  # fmt: skip
        event("tool_result", T0 + 4 * S, {"session.id": "e", "tool_name": "Bash", "tool_use_id": "toolu_1",
                                          "success": "true", "duration_ms": "15"}),  # fmt: skip
    )
    expected = expect(
        2, requests=2, errors=0, input_tokens=170, output_tokens=10, cache_read_tokens=40, cache_write_tokens=0,
        cost_usd=0.033, lines_added=5, lines_removed=0, tool_calls=1, tool_accepted=1, tool_rejected=0,
    )  # fmt: skip
    post(served, "metrics", metrics)
    post(served, "logs", logs)
    once = summary_json(db, "2026-11-23", "2026-11-23", "UTC")
    post(served, "metrics", metrics)
    post(served, "logs", logs)
    twice = summary_json(db, "2026-11-23", "2026-11-23", "UTC")
    assert agent_row(once) == agent_row(twice) == expected
    assert figures(twice["totals"]) == expected


# -- 6. a metric and an event for the same request ---------------------------------------------
def test_a_call_reported_as_metric_and_event_is_counted_once_from_the_event(served: Listener, db: Path) -> None:
    # Session "both": one call, reported by the token.usage/cost.usage metrics (delta) and
    # by its api_request event; session "metric-only": the metrics alone.
    #   both:        the event's figures: requests 1, input 1000 + 200 + 30 = 1230, output 50,
    #                cache_read 200, cache_write 30, cost 0.02 (the metrics repeat them: not added)
    #   metric-only: input 400, output 20, cost 0.01; requests — (no record counts calls)
    #   totals:      sessions 2, requests 1 (— adds nothing), errors 0, input 1230 + 400 = 1630,
    #                output 50 + 20 = 70, cache_read 200, cache_write 30, cost 0.02 + 0.01 = 0.03
    claude = ClaudeProcess(served.http_url, "delta")
    both = {"session.id": "both", "model": "claude-opus-4-8[1m]"}
    for kind, n in (("input", 1000), ("output", 50), ("cacheRead", 200), ("cacheCreation", 30)):
        claude.tokens.add(n, {**both, "type": kind})
    claude.cost.add(0.02, both)
    alone = {"session.id": "metric-only", "model": "claude-opus-4-8[1m]"}
    claude.tokens.add(400, {**alone, "type": "input"})
    claude.tokens.add(20, {**alone, "type": "output"})
    claude.cost.add(0.01, alone)
    claude.export()  # the metrics arrive first: until the event comes they are the best source
    before = {s["id"]: s for s in sessions_json(db, today_window()[0])}
    assert before["both"]["input_tokens"] == 1230 and before["both"]["requests"] is None

    claude.event("api_request", api_request("both", 1000, 50, 0.02, cache_read_tokens=200, cache_creation_tokens=30))
    claude.export()
    claude.exit()

    per_session = {s["id"]: measures_of(s) for s in sessions_json(db, today_window()[0])}
    assert per_session == {
        "both": measures(requests=1, errors=0, input_tokens=1230, output_tokens=50, cache_read_tokens=200,
                         cache_write_tokens=30, cost_usd=0.02),
        "metric-only": measures(input_tokens=400, output_tokens=20, cost_usd=0.01),
    }  # fmt: skip
    assert agent_row(now_summary(db)) == expect(
        2, requests=1, errors=0, input_tokens=1630, output_tokens=70, cache_read_tokens=200,
        cache_write_tokens=30, cost_usd=0.03,
    )  # fmt: skip


# -- 7. Claude --continue ------------------------------------------------------------------
def test_a_continued_session_is_one_session(served: Listener, db: Path) -> None:
    # Process 1 starts session A (session.count{start_type=fresh} under A) and makes one call.
    # Process 2 is `claude --continue`: session.count{start_type=continue} carries a new id B,
    # and everything it does after carries the resumed id A (AGENT-TELEMETRY.md §1).
    #   sessions 1 (B carries only a start marker, not activity; so does C, a process that made no call)
    #   requests 1 + 1 = 2, input 100 + 60 = 160, output 10 + 6 = 16, cost 0.01 + 0.006 = 0.016
    #   (the token.usage metrics repeat the calls: the events win)
    first = ClaudeProcess(served.http_url)
    first.starts.add(1, {"session.id": "A", "start_type": "fresh"})
    first.tokens.add(100, {"session.id": "A", "model": OPUS, "type": "input"})
    first.event("api_request", api_request("A", 100, 10, 0.01))
    first.export()
    first.exit()
    second = ClaudeProcess(served.http_url)
    second.starts.add(1, {"session.id": "B", "start_type": "continue"})
    second.tokens.add(60, {"session.id": "A", "model": OPUS, "type": "input"})
    second.event("api_request", api_request("A", 60, 6, 0.006))
    second.export()
    second.exit()
    idle = ClaudeProcess(served.http_url)  # a third process started session C and quit before any call
    idle.starts.add(1, {"session.id": "C", "start_type": "fresh"})
    idle.export()
    idle.exit()

    assert agent_row(now_summary(db)) == expect(
        1, requests=2, errors=0, input_tokens=160, output_tokens=16, cache_read_tokens=0, cache_write_tokens=0,
        cost_usd=0.016,
    )  # fmt: skip
    assert [s["id"] for s in sessions_json(db, today_window()[0])] == ["A"]


# -- 8. the null-family rule -----------------------------------------------------------------
def test_unknown_is_null_and_a_carried_family_counts_its_missing_members_as_zero(served: Listener, db: Path) -> None:
    # Session "s1" (opus): one call with cost 0.25; lines added 7 and no removed point.
    # Session "s2" (haiku): one call whose event carries no cost_usd.
    # Session "s3" (sonnet): one call whose reported cost is 0 — a reported 0 stays 0.
    # No tool events, commits, PRs or reasoning anywhere.
    #   opus:   requests 1, input 100, output 10, cache 0/0, cost 0.25, lines 7 / 0 (removed: family carried)
    #   haiku:  requests 1, input 50, output 5, cache 0/0, cost — , lines —
    #   sonnet: requests 1, input 20, output 2, cache 0/0, cost 0.0, lines —
    #   agent:  sessions 3, requests 3, input 170, output 17, cost 0.25 + — + 0.0 = 0.25,
    #           lines 7 / 0, tool calls — (no tool record: not 0), commits/PRs/reasoning —
    post(served, "logs", logs_body(
        event("api_request", T0, api_request("s1", 100, 10, 0.25)),
        event("api_request", T0 + S, api_request("s2", 50, 5, model="claude-haiku-4-5")),
        event("api_request", T0 + 2 * S, api_request("s3", 20, 2, 0.0, model="claude-sonnet-4-6")),
    ))  # fmt: skip
    post(served, "metrics", metrics_body(
        counter("claude_code.lines_of_code.count", DELTA,
                point(7, T0, T0 + MIN, {"session.id": "s1", "model": OPUS, "type": "added"})),
    ))  # fmt: skip
    summary = summary_json(db, "2026-11-23", "2026-11-23", "UTC")
    calls = {"errors": 0, "cache_read_tokens": 0, "cache_write_tokens": 0}
    models = {r["model"]: figures(r) for r in summary["by_model"]}
    assert models == {
        OPUS: expect(1, requests=1, input_tokens=100, output_tokens=10, cost_usd=0.25, lines_added=7, lines_removed=0, **calls),
        "claude-haiku-4-5": expect(1, requests=1, input_tokens=50, output_tokens=5, **calls),
        "claude-sonnet-4-6": expect(1, requests=1, input_tokens=20, output_tokens=2, cost_usd=0.0, **calls),
    }
    assert models["claude-sonnet-4-6"]["cost_usd"] == 0.0  # 0.0, not None
    assert agent_row(summary) == expect(
        3, requests=3, input_tokens=170, output_tokens=17, cost_usd=0.25, lines_added=7, lines_removed=0, **calls
    )


def test_a_failed_call_is_a_request_and_an_error_without_tokens(served: Listener, db: Path) -> None:
    # Session "e": one api_request (input 100, output 10, cost 0.25) and one api_error (a 529, no usage).
    #   requests 1 + 1 = 2, errors 0 + 1 = 1, input 100, output 10, cache 0/0, cost 0.25
    # Session "only-error": its one call failed: requests 1, errors 1, tokens and cost — (never carried)
    #   agent: sessions 2, requests 2 + 1 = 3, errors 1 + 1 = 2, input 100, output 10, cache 0/0, cost 0.25
    post(served, "logs", logs_body(
        event("api_request", T0, api_request("e", 100, 10, 0.25)),
        event("api_error", T0 + S, {"session.id": "e", "model": OPUS, "error": "Overloaded", "status_code": "529",
                                    "duration_ms": "300", "attempt": 1}),
        event("api_error", T0 + 2 * S, {"session.id": "only-error", "model": OPUS, "error": "Overloaded",
                                        "status_code": "529"}),
    ))  # fmt: skip
    per_session = {s["id"]: measures_of(s) for s in sessions_json(db, "2026-11-23")}
    assert per_session["only-error"] == measures(requests=1, errors=1)
    assert agent_row(summary_json(db, "2026-11-23", "2026-11-23", "UTC")) == expect(
        2, requests=3, errors=2, input_tokens=100, output_tokens=10, cache_read_tokens=0, cache_write_tokens=0,
        cost_usd=0.25,
    )  # fmt: skip


def _genai_chat_span(conversation: str, input_tokens: int, output_tokens: int, start: int) -> ExportTraceServiceRequest:
    """One chat span as the OpenTelemetry GenAI instrumentations send it: tokens, no cost."""
    span = Span(
        trace_id=bytes(range(1, 17)),
        span_id=bytes(range(1, 9)),
        name="chat gpt-4.1",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=start + S,
        attributes=key_values({
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4.1",
            "gen_ai.response.model": "gpt-4.1",
            "gen_ai.response.id": "chatcmpl-1",
            "gen_ai.conversation.id": conversation,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
        }),
    )  # fmt: skip
    scope = InstrumentationScope(name="opentelemetry.instrumentation.openai_v2", version="2.4b0")
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource("my-agent"), scope_spans=[ScopeSpans(scope=scope, spans=[span])])]
    )


def test_totals_add_the_known_values_and_are_null_only_when_all_are(served: Listener, db: Path) -> None:
    # Claude reports cost; a GenAI-conventions agent ("my-agent": one chat span) reports
    # tokens only, so its cost is — and the total cost is Claude's alone.
    #   claude-code: requests 1, input 100, output 10, cache 0/0, cost 0.25
    #   my-agent:    requests 1, errors 0, input 300, output 30, cost —  (cache and reasoning: not carried)
    #   totals:      sessions 2, requests 2, errors 0, input 400, output 40, cache 0/0 (Claude's),
    #                cost 0.25 + — = 0.25; lines, commits, PRs, tools — in all three
    post(served, "logs", logs_body(event("api_request", T0, api_request("s1", 100, 10, 0.25))))
    post(served, "traces", _genai_chat_span("conv-1", 300, 30, T0))
    summary = summary_json(db, "2026-11-23", "2026-11-23", "UTC")
    assert agent_row(summary, "claude-code") == expect(
        1, requests=1, errors=0, input_tokens=100, output_tokens=10, cache_read_tokens=0, cache_write_tokens=0, cost_usd=0.25
    )
    assert agent_row(summary, "my-agent") == expect(1, requests=1, errors=0, input_tokens=300, output_tokens=30)
    assert figures(summary["totals"]) == expect(
        2, requests=2, errors=0, input_tokens=400, output_tokens=40, cache_read_tokens=0, cache_write_tokens=0, cost_usd=0.25
    )


# -- 9. an agent whose records carry nothing countable ----------------------------------------
def test_an_agent_with_nothing_countable_has_a_row_of_zero_sessions_and_nulls(served: Listener, db: Path) -> None:
    # Cline CLI 3.0.65's only record (AGENT-TELEMETRY.md §6): OTLP/JSON, resource service.name=cline,
    # scope "cline", severityText INFO, no eventName, body "telemetry.provider_created".
    #   by_agent: cline with 0 sessions and — everywhere else, so the user sees it is connected;
    #   by_model: nothing (no figure at all); by_day: the day, 0 sessions, — everywhere
    when = at("2026-11-23T10:00:00+00:00") + 123 * 10**6  # millisecond precision, as Cline sends
    body = {
        "resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "cline"}}]},
            "scopeLogs": [{
                "scope": {"name": "cline"},
                "logRecords": [{
                    "timeUnixNano": str(when),
                    "severityText": "INFO",
                    "body": {"stringValue": "telemetry.provider_created"},
                    "attributes": [
                        {"key": "provider", "value": {"stringValue": "opentelemetry"}},
                        {"key": "platform", "value": {"stringValue": "terminal"}},
                        {"key": "enabled", "value": {"boolValue": True}},
                        {"key": "_required", "value": {"boolValue": True}},
                    ],
                }],
            }],
        }]
    }  # fmt: skip
    post(served, "logs", json.dumps(body).encode(), "application/json")
    summary = summary_json(db, "2026-11-23", "2026-11-23", "UTC")
    assert summary["by_agent"] == [{"agent": "cline", **expect(0)}]
    assert summary["by_model"] == []
    assert summary["by_day"] == [{"date": "2026-11-23", **expect(0)}]
    assert summary["totals"] == expect(0)


# -- 10. days in the summary's zone ------------------------------------------------------------
# Six calls around 2026-11-23/24, each with a distinct power of ten of input tokens so a
# day's sum says exactly which calls it holds. Offsets on 2026-11-23: Los Angeles −08:00
# (PST), Kathmandu +05:45.
#   call  UTC time                 Los Angeles        Kathmandu
#   1     2026-11-23 07:59:59      22nd 23:59:59      23rd 13:44:59
#   10    2026-11-23 08:00:00      23rd 00:00:00      23rd 13:45:00
#   100   2026-11-23 18:14:59      23rd 10:14:59      23rd 23:59:59
#   1000  2026-11-23 18:15:00      23rd 10:15:00      24th 00:00:00
#   10000 2026-11-23 23:59:59      23rd 15:59:59      24th 05:44:59
#   100000 2026-11-24 00:00:00     23rd 16:00:00      24th 05:45:00
MIDNIGHT_CALLS = {
    1: at("2026-11-23T07:59:59+00:00"),
    10: at("2026-11-23T08:00:00+00:00"),
    100: at("2026-11-23T18:14:59+00:00"),
    1000: at("2026-11-23T18:15:00+00:00"),
    10000: at("2026-11-23T23:59:59+00:00"),
    100000: at("2026-11-24T00:00:00+00:00"),
}


def _post_calls(listener: Listener, calls: dict[int, int]) -> None:
    post(listener, "logs", logs_body(*(event("api_request", t, api_request("tz", n, 0)) for n, t in calls.items())))


def _input_by_day(db: Path, since: str, until: str, tz: str) -> dict[str, int]:
    summary = summary_json(db, since, until, tz)
    assert summary["period"] == {"since": since, "until": until, "tz": tz}
    return {d["date"]: d["input_tokens"] for d in summary["by_day"]}


@pytest.mark.parametrize(
    ("tz", "days"),
    [
        # UTC:        23rd 1 + 10 + 100 + 1000 + 10000 = 11111; 24th 100000
        ("UTC", {"2026-11-23": 11111, "2026-11-24": 100000}),
        # LA:         22nd 1; 23rd 10 + 100 + 1000 + 10000 + 100000 = 111110
        ("America/Los_Angeles", {"2026-11-22": 1, "2026-11-23": 111110}),
        # Kathmandu:  23rd 1 + 10 + 100 = 111; 24th 1000 + 10000 + 100000 = 111000
        ("Asia/Kathmandu", {"2026-11-23": 111, "2026-11-24": 111000}),
    ],
)
def test_records_land_in_the_day_of_their_time_in_the_summary_zone(
    served: Listener, db: Path, tz: str, days: dict[str, int]
) -> None:
    _post_calls(served, MIDNIGHT_CALLS)
    assert _input_by_day(db, "2026-11-22", "2026-11-24", tz) == days
    # --date is one whole local day: Kathmandu's 23rd holds calls 1, 10 and 100 only
    one_day = summary_json(db, "2026-11-23", "2026-11-23", "Asia/Kathmandu")
    assert one_day["totals"]["input_tokens"] == 111 and one_day["totals"]["requests"] == 3


def test_a_dst_day_is_23_or_25_hours_long(served: Listener, db: Path) -> None:
    # Los Angeles 2026-03-08 begins at 08:00Z (PST, −8) and ends at 07:00Z on the 9th (PDT, −7):
    # 23 hours. 2026-11-01 begins at 07:00Z (PDT) and ends at 08:00Z on the 2nd (PST): 25 hours.
    #   1      2026-03-08 07:59:59Z = 7th 23:59:59 PST
    #   10     2026-03-08 08:00:00Z = 8th 00:00 PST
    #   100    2026-03-09 06:59:59Z = 8th 23:59:59 PDT
    #   1000   2026-03-09 07:00:00Z = 9th 00:00 PDT  (a 24-hour day from 08:00Z would take it)
    #   10000  2026-11-01 07:00:00Z = Nov 1st 00:00 PDT
    #   100000 2026-11-02 07:30:00Z = 1st 23:30 PST  (the 25th hour: a 24-hour day would drop it)
    #   1000000 2026-11-02 08:00:00Z = 2nd 00:00 PST
    calls = {
        1: at("2026-03-08T07:59:59+00:00"),
        10: at("2026-03-08T08:00:00+00:00"),
        100: at("2026-03-09T06:59:59+00:00"),
        1000: at("2026-03-09T07:00:00+00:00"),
        10000: at("2026-11-01T07:00:00+00:00"),
        100000: at("2026-11-02T07:30:00+00:00"),
        1000000: at("2026-11-02T08:00:00+00:00"),
    }
    _post_calls(served, calls)
    la = "America/Los_Angeles"
    #   7th 1; 8th 10 + 100 = 110; 9th 1000
    assert _input_by_day(db, "2026-03-07", "2026-03-09", la) == {"2026-03-07": 1, "2026-03-08": 110, "2026-03-09": 1000}
    #   Nov 1st 10000 + 100000 = 110000; 2nd 1000000
    assert _input_by_day(db, "2026-11-01", "2026-11-02", la) == {"2026-11-01": 110000, "2026-11-02": 1000000}


# -- 11. a log record with timeUnixNano = 0 ----------------------------------------------------
def test_a_record_without_a_time_takes_its_observed_time(served: Listener, db: Path) -> None:
    # timeUnixNano = 0, observedTimeUnixNano = 2026-11-24 02:00Z: the record is on the 24th in UTC
    # and on the 23rd in Los Angeles (18:00 PST) — never on 1970-01-01 and never on the day it arrived.
    observed = at("2026-11-24T02:00:00+00:00")
    post(served, "logs", logs_body(event("api_request", 0, api_request("t0", 42, 4), observed_ns=observed)))
    assert _input_by_day(db, "2026-11-22", "2026-11-25", "UTC") == {"2026-11-24": 42}
    assert _input_by_day(db, "2026-11-22", "2026-11-25", "America/Los_Angeles") == {"2026-11-23": 42}
    assert summary_json(db, "1970-01-01", "1970-01-02", "UTC")["by_day"] == []


def test_the_sdk_leaves_the_time_unset_and_the_observed_time_counts(served: Listener, db: Path) -> None:
    # The same through the OpenTelemetry SDK: a LogRecord with only an observed timestamp is
    # exported with timeUnixNano 0. observed = 2026-11-23 12:00Z → the 23rd.
    claude = ClaudeProcess(served.http_url)
    claude.event("api_request", api_request("t0", 42, 4), observed_ns=at("2026-11-23T12:00:00+00:00"))
    claude.export()
    claude.exit()
    assert _input_by_day(db, "2026-11-20", "2026-11-26", "UTC") == {"2026-11-23": 42}
    stored = query(db, "SELECT time_unix_nano, observed_ns FROM log_records")
    assert stored == [(0, at("2026-11-23T12:00:00+00:00"))]



# -- agent attribution ---------------------------------------------------------------------
def test_a_global_service_name_files_claude_under_claude_code_only(served: Listener, db: Path) -> None:
    # OTEL_SERVICE_NAME=my-app exported in the shell: Claude's resource says service.name=my-app, but
    # its scope is com.anthropic.claude_code.events, so its call belongs to claude-code — and
    # my-app, which sent nothing of its own, gets no row (not a "connected, 0 sessions" row).
    #   claude-code: sessions 1, requests 1, input 100, output 10, cache 0/0, cost 0.25
    post(served, "logs", logs_body(event("api_request", T0, api_request("s1", 100, 10, 0.25)), service="my-app"))
    summary = summary_json(db, "2026-11-23", "2026-11-23", "UTC")
    assert [r["agent"] for r in summary["by_agent"]] == ["claude-code"]
    assert agent_row(summary) == expect(
        1, requests=1, errors=0, input_tokens=100, output_tokens=10, cache_read_tokens=0, cache_write_tokens=0, cost_usd=0.25
    )


# -- 12. tools before the session's first call (as Claude Code 2.1.332 sends them) -------------
@pytest.mark.parametrize("tools_first", [True, False], ids=["tools-arrive-first", "call-arrives-first"])
def test_tools_timestamped_before_the_first_call_are_filed_under_it(served: Listener, db: Path, tools_first: bool) -> None:
    # Session "early": tool_decision (09:59:57, accept) and tool_result (09:59:58) of toolu_1,
    # then the session's only api_request at 10:00:00 (opus, input 100, output 10, cost 0.01),
    # and a code_edit_tool.decision point (accept, 1) that names no model at all.
    #   by model: one row, opus: sessions 1, requests 1, errors 0, input 100, output 10, cache 0/0,
    #             cost 0.01, tool calls 1, accepted 1, rejected 0 (the events' decision, rank 0,
    #             wins over the metric's, rank 2: not 2 accepted); no "—" row
    #   by agent: the same figures
    tool = {"session.id": "early", "tool_name": "Bash", "tool_use_id": "toolu_1"}
    tools = logs_body(
        event("tool_decision", T0 - 3 * S, {**tool, "decision": "accept", "source": "config"}),
        event("tool_result", T0 - 2 * S, {**tool, "success": "true", "duration_ms": "15"}),
    )
    decision = metrics_body(counter("claude_code.code_edit_tool.decision", DELTA, point(
        1, T0 - 4 * S, T0 - S, {"session.id": "early", "decision": "accept", "tool_name": "Edit", "language": "Python"})))
    call = logs_body(event("api_request", T0, api_request("early", 100, 10, 0.01)))
    for signal, body in ([("logs", tools), ("metrics", decision), ("logs", call)] if tools_first
                         else [("logs", call), ("logs", tools), ("metrics", decision)]):  # fmt: skip
        post(served, signal, body)
    summary = summary_json(db, "2026-11-23", "2026-11-23", "UTC")
    expected = expect(1, requests=1, errors=0, input_tokens=100, output_tokens=10, cache_read_tokens=0,
                      cache_write_tokens=0, cost_usd=0.01, tool_calls=1, tool_accepted=1, tool_rejected=0)  # fmt: skip
    assert [(r["model"], figures(r)) for r in summary["by_model"]] == [(OPUS, expected)]
    assert agent_row(summary) == expected


def test_a_dropped_lines_point_leaves_no_stray_zero(served: Listener, db: Path) -> None:
    # Session "neg": one call, and a lines_of_code point of -5 "added" (not a count: dropped).
    #   lines added —, lines removed — (not 0: no record carried the family)
    post(served, "logs", logs_body(event("api_request", T0, api_request("neg", 100, 10))))
    post(served, "metrics", metrics_body(counter("claude_code.lines_of_code.count", DELTA,
         point(-5, T0, T0 + MIN, {"session.id": "neg", "model": OPUS, "type": "added"}))))  # fmt: skip
    row = agent_row(summary_json(db, "2026-11-23", "2026-11-23", "UTC"))
    assert (row["lines_added"], row["lines_removed"]) == (None, None)
