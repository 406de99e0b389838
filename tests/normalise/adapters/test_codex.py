"""Codex CLI: both captured scenarios replayed into a real listener, plus its quirks.

Stub table (tests/fixtures/README.md, OpenAI Responses): every call is input 5555 *of
which* cached 4096, output 120 *of which* reasoning 64. Codex made 3 calls (write via
apply_patch, shell via exec_command, final answer) and 2 tool calls, both approved by
config (approval_policy "never"). OpenAI's convention (parts inside the totals) is ours,
so nothing is added up:
  sessions       1   (conversation.id; metrics carry none)
  requests       3   (3 `codex.sse_event` response.completed records carrying usage)
  errors         0
  input_tokens   3 × 5555 = 16665
  output_tokens  3 × 120 = 360
  cache_read     3 × 4096 = 12288
  cache_write    3 × 0 = 0      (Codex reports cache_write_token_count 0: a reported 0)
  reasoning      3 × 64 = 192
  cost_usd       —   (Codex reports no cost)
  lines, commits, pull requests  —   (Codex reports none)
  tool_calls     2   (tool_decision + tool_result + the tool's span, merged per call_id)
  accepted 2, rejected 0   (decision "approved", source "Config")
The payload agrees with the stub, but says each thing up to four times: every
response.completed is logged twice (the first record without usage, 6 records for 3
calls), the `handle_responses` spans repeat the 3 calls' usage, `session_task.turn`
the turn's sums (16665 / 12288 / 360 / 192), and the metrics (`codex.turn.token_usage`,
`codex.api_request` 3, `codex.tool.call` 1 + 1) the same again, each signal from its
own resource. Each is counted once.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs, SeverityNumber
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from agentwatch.normalise.adapters.base import Origin
from agentwatch.normalise.adapters.codex import ADAPTER, TOOL_PHASE, home_of
from agentwatch.records import Kind, LogRow, PointRow, SpanRow
from support.accounting import figures, replayed
from support.replay import FIXTURES
from support.otlp_build import key_values

SCENARIOS = ["codex/http_binary_logprompt", "codex/http_json_default_prompt_redaction"]

ONE_TURN = {
    "sessions": 1,
    "requests": 3,
    "errors": 0,
    "input_tokens": 16665,
    "output_tokens": 360,
    "cache_read_tokens": 12288,
    "cache_write_tokens": 0,
    "reasoning_tokens": 192,
    "cost_usd": None,
    "lines_added": None,
    "lines_removed": None,
    "commits": None,
    "pull_requests": None,
    "tool_calls": 2,
    "tool_accepted": 2,
    "tool_rejected": 0,
}
# Without the events, nothing says how the tools were decided: decisions are unknown.
NO_DECISIONS = {**ONE_TURN, "tool_accepted": None, "tool_rejected": None}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_captured_turn_is_counted_once_from_events_spans_and_metrics(tmp_path: Path, scenario: str) -> None:
    derived = replayed(tmp_path, scenario)
    assert figures(derived.agent("codex")) == ONE_TURN
    assert figures(derived.summary["totals"]) == ONE_TURN
    # The log records' timeUnixNano is 0: they land on the day they were observed (UTC).
    assert [d["date"] for d in derived.summary["by_day"]] == ["2026-11-23"]
    models = {r["model"]: r for r in derived.summary["by_model"]}
    assert (models["gpt-5.5"]["requests"], models["gpt-5.5"]["input_tokens"]) == (3, 16665)
    assert models["gpt-5.5"]["tool_calls"] == 2
    (session,) = derived.sessions
    assert (session["agent"], session["models"]) == ("codex", ["gpt-5.5"])
    assert session["start"].startswith("2026-11-23T06:3")
    assert "adapter failed" not in derived.stderr


# -- what the payloads say ----------------------------------------------------------
def _any(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _json_any(value: dict[str, Any]) -> Any:
    for kind, inner in value.items():
        return int(inner) if kind == "intValue" else inner
    return None


def _log_records(scenario: str) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(timeUnixNano, observedTimeUnixNano, attributes) of every log record, as sent."""
    otlp = FIXTURES / scenario / "otlp"
    for body in sorted([*otlp.glob("*_logs.pb"), *otlp.glob("*_logs.json")]):
        if body.suffix == ".pb":
            request = ExportLogsServiceRequest()
            request.ParseFromString(body.read_bytes())
            for rl in request.resource_logs:
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        attrs = {kv.key: _any(kv.value) for kv in r.attributes}
                        yield r.time_unix_nano, r.observed_time_unix_nano, attrs
        elif body.suffix == ".json":
            for rl in json.loads(body.read_text())["resourceLogs"]:
                for sl in rl["scopeLogs"]:
                    for r in sl["logRecords"]:
                        attrs = {a["key"]: _json_any(a["value"]) for a in r.get("attributes", [])}
                        yield int(r.get("timeUnixNano", 0)), int(r["observedTimeUnixNano"]), attrs


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_payload_logs_each_completion_twice_and_every_log_time_is_zero(scenario: str) -> None:
    records = list(_log_records(scenario))
    assert {t for t, _, _ in records} == {0}
    assert all(observed > 0 for _, observed, _ in records)
    completed = [a for _, _, a in records if a.get("event.kind") == "response.completed"]
    with_usage = [a for a in completed if "input_token_count" in a]
    assert (len(completed), len(with_usage)) == (6, 3)
    # Numbers as strings and as ints in one record (both encodings).
    assert {(a["input_token_count"], a["cached_token_count"]) for a in with_usage} == {("5555", 4096)}
    assert all(a["cache_write_token_count"] == 0 for a in with_usage)


def _only(signals: set[str], scenario: str, into: Path) -> Path:
    """A copy of the scenario holding only the requests of these signals."""
    shutil.copytree(FIXTURES / scenario / "otlp", into / "otlp")
    index = into / "otlp" / "index.jsonl"
    kept = [line for line in index.read_text().splitlines() if json.loads(line)["signal"] in signals]
    index.write_text("\n".join(kept) + "\n")
    return into


@pytest.mark.parametrize(
    ("scenario", "signals", "expected"),
    [
        # The events alone: everything, on 2026-11-23 although their timeUnixNano is 0.
        (SCENARIOS[0], {"logs"}, ONE_TURN),
        (SCENARIOS[1], {"logs"}, ONE_TURN),
        # The spans alone: calls from handle_responses (their session from the trace's
        # run_turn / codex.sampling), tool calls from the tools' dispatch spans.
        (SCENARIOS[0], {"traces"}, NO_DECISIONS),
        # The metrics alone: the same figures in the resource's no-session row, so no
        # session is counted.
        (SCENARIOS[0], {"metrics"}, {**NO_DECISIONS, "sessions": 0}),
    ],
    ids=["logs-binary", "logs-json", "traces", "metrics"],
)
def test_each_signal_alone_gives_the_turn(
    tmp_path: Path, scenario: str, signals: set[str], expected: dict[str, Any]
) -> None:
    derived = replayed(tmp_path, str(_only(signals, scenario, tmp_path / "scenario")))
    assert figures(derived.agent("codex")) == expected
    assert [d["date"] for d in derived.summary["by_day"]] == ["2026-11-23"]
    if signals == {"logs"}:
        # The session spans the observed times of its first and last counted event (not
        # the time of receipt, which is today).
        counted = [
            observed
            for _, observed, a in _log_records(scenario)
            if a.get("event.name") in ("codex.tool_decision", "codex.tool_result") or "input_token_count" in a
        ]
        (session,) = derived.sessions
        assert (session["start"], session["end"]) == (_utc(min(counted)), _utc(max(counted)))


def _utc(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).isoformat(timespec="seconds")


def test_both_scenarios_in_one_store_are_two_sessions_and_two_turns(tmp_path: Path) -> None:
    derived = replayed(tmp_path, *SCENARIOS)
    totals = derived.summary["totals"]
    assert totals["sessions"] == 2
    assert (totals["requests"], totals["input_tokens"], totals["tool_calls"]) == (2 * 3, 2 * 16665, 2 * 2)


def test_replaying_a_scenario_twice_counts_it_once(tmp_path: Path) -> None:
    twice = replayed(tmp_path, SCENARIOS[1], SCENARIOS[1])
    assert figures(twice.summary["totals"]) == ONE_TURN


# -- quirks, replayed: failures, decisions and odd numbers, over three resources ---------
T0 = 1_795_430_000_000_000_000  # 2026-11-23 10:33 UTC
CONV = "01a2071a-0000-7000-8000-00000000c0de"
COMMON: dict[str, Any] = {
    "conversation.id": CONV,
    "app.version": "0.169.0",
    "originator": "codex_exec",
    "model": "gpt-5.5",
}
SHARED: dict[str, Any] = {
    "service.name": "codex_exec",
    "service.version": "0.169.0",
    "env": "local",
    "team": "platform",
}






def _event(i: int, name: str, **attrs: object) -> LogRecord:
    # As Codex sends them: timeUnixNano 0, the time only in observedTimeUnixNano.
    return LogRecord(
        time_unix_nano=0,
        observed_time_unix_nano=T0 + i * 1_000_000,
        severity_number=SeverityNumber.SEVERITY_NUMBER_INFO,
        severity_text="INFO",
        event_name="event otel/src/events/session_telemetry.rs:803",
        attributes=key_values({"event.name": name, **attrs, **COMMON}),
    )


QUIRK_EVENTS = [
    # Call 1: the HTTP request failed (500); nothing streamed.
    _event(1, "codex.api_request", duration_ms="31", **{"http.response.status_code": 500, "error.message": "boom"}),
    # Call 2: HTTP 200, then the stream failed: the raw response.failed event and the
    # client's failure record (response.completed with error.message), one call.
    _event(2, "codex.api_request", duration_ms="20", **{"http.response.status_code": 200}),
    _event(3, "codex.sse_event", **{"event.kind": "response.failed", "duration_ms": "5", "error.message": "slow"}),
    _event(4, "codex.sse_event", **{"event.kind": "response.completed", "error.message": "slow"}),
    # Call 3: no HTTP answer at all (no status, an error message).
    _event(5, "codex.api_request", duration_ms="3", **{"error.message": "connection refused"}),
    # Call 4: success, logged twice; numbers as strings and ints; cache writes reported.
    _event(6, "codex.api_request", duration_ms="24", **{"http.response.status_code": 200}),
    _event(7, "codex.sse_event", **{"event.kind": "response.completed", "duration_ms": "19"}),
    _event(
        8,
        "codex.sse_event",
        **{
            "event.kind": "response.completed",
            "input_token_count": "1000",
            "output_token_count": 50,
            "cached_token_count": "400",
            "cache_write_token_count": 100,
            "reasoning_token_count": "20",
            "tool_token_count": "1050",
        },
    ),
    # Tools: one denied by the user, one approved for the session that then failed.
    _event(9, "codex.tool_decision", tool_name="exec_command", call_id="call_x", decision="denied", source="User"),
    _event(10, "codex.tool_decision", tool_name="apply_patch", call_id="call_y", decision="approved_for_session"),
    _event(11, "codex.tool_result", tool_name="apply_patch", call_id="call_y", duration_ms="7", success="false"),
    # Not calls: a prompt and a startup phase.
    _event(12, "codex.user_prompt", prompt_length="52"),
    _event(13, "codex.startup_phase", duration_ms="26"),
]
QUIRK_EXPECTED = {
    "sessions": 1,
    "requests": 4,  # calls 1-4
    "errors": 3,  # calls 1-3 (call 2 once, not twice)
    "input_tokens": 1000,  # call 4: cached 400 and cache writes 100 are inside it
    "output_tokens": 50,  # reasoning 20 inside it
    "cache_read_tokens": 400,
    "cache_write_tokens": 100,
    "reasoning_tokens": 20,
    "cost_usd": None,
    "lines_added": None,
    "lines_removed": None,
    "commits": None,
    "pull_requests": None,
    "tool_calls": 2,  # call_x (decided only) and call_y (decision + result + span)
    "tool_accepted": 1,
    "tool_rejected": 1,
}


def _span(span: int, name: str, attrs: dict[str, Any], parent: int = 0) -> Span:
    return Span(
        trace_id=(0xC0DE).to_bytes(16, "big"),
        span_id=span.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=T0 + span * 1_000_000,
        end_time_unix_nano=T0 + span * 1_000_000 + 500_000,
        attributes=key_values(attrs),
    )


QUIRK_SPANS = [
    # The call's usage again (no session on the span; the trace's run_turn names it) and
    # the turn's sums: neither may add to the events.
    _span(2, "handle_responses", {"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 50}, parent=1),
    _span(3, "handle_responses", {"codex.response.receive_wait_ms": 0.01}, parent=1),
    _span(4, "apply_patch", {"tool_name": "apply_patch", "call_id": "call_y", TOOL_PHASE: "dispatch", **COMMON}),
    _span(5, "fs.read_file", {"sandboxed": False}),
    _span(1, "run_turn", {"conversation.id": CONV, "turn.id": "t1"}),
    _span(6, "session_task.turn", {"codex.turn.token_usage.input_tokens": 1000, "model": "gpt-5.5"}),
]


def _sum(name: str, value: int, attrs: dict[str, Any]) -> Metric:
    point = NumberDataPoint(
        as_int=value, start_time_unix_nano=T0, time_unix_nano=T0 + 60 * 10**9, attributes=key_values(attrs)
    )
    delta = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    return Metric(name=name, sum=Sum(data_points=[point], aggregation_temporality=delta, is_monotonic=True))


def _histogram(name: str, total: float, attrs: dict[str, Any]) -> Metric:
    point = HistogramDataPoint(
        count=1, sum=total, start_time_unix_nano=T0, time_unix_nano=T0 + 60 * 10**9, attributes=key_values(attrs)
    )
    delta = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    return Metric(name=name, histogram=Histogram(data_points=[point], aggregation_temporality=delta))


TAGS: dict[str, Any] = {
    "app.version": "0.169.0",
    "model": "gpt-5.5",
    "originator": "codex_exec",
    "session_source": "exec",
}
QUIRK_METRICS = [
    _sum("codex.api_request", 2, {**TAGS, "status": "200", "success": "true"}),
    _sum("codex.api_request", 1, {**TAGS, "status": "500", "success": "false"}),
    _histogram("codex.turn.token_usage", 1000.0, {**TAGS, "token_type": "input"}),
    _histogram("codex.turn.token_usage", 1050.0, {**TAGS, "token_type": "total"}),
    _sum("codex.tool.call", 1, {**TAGS, "tool": "apply_patch", "success": "false"}),
]


def _write(otlp: Path, seq: int, signal: str, request: Any) -> dict[str, Any]:
    stem = f"{seq:04d}_http_{signal}"
    (otlp / f"{stem}.pb").write_bytes(request.SerializeToString())
    headers = {"path": f"/v1/{signal}", "headers": {"Content-Type": "application/x-protobuf"}}
    (otlp / f"{stem}.headers.json").write_text(json.dumps(headers))
    return {"seq": seq, "transport": "http", "signal": signal, "content_type": "application/x-protobuf", "records": 0}


def _quirk_scenario(into: Path) -> Path:
    """Codex's three exporters, each with its own resource, as in the captures."""
    otlp = into / "otlp"
    otlp.mkdir(parents=True)
    spans = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=key_values(SHARED)),
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name="codex_exec"), spans=QUIRK_SPANS)],
            )
        ]
    )
    logs = ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=key_values({**SHARED, "host.name": "vm"})),
                scope_logs=[
                    ScopeLogs(scope=InstrumentationScope(name="codex_otel.log_only"), log_records=QUIRK_EVENTS)
                ],
            )
        ]
    )
    metrics = ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                resource=Resource(attributes=key_values({**SHARED, "os": "Debian", "os_version": "12.0.0"})),
                scope_metrics=[
                    ScopeMetrics(scope=InstrumentationScope(name="codex_otel::metrics::client"), metrics=QUIRK_METRICS)
                ],
            )
        ]
    )
    index = [_write(otlp, 1, "traces", spans), _write(otlp, 2, "metrics", metrics), _write(otlp, 3, "logs", logs)]
    (otlp / "index.jsonl").write_text("".join(json.dumps(e) + "\n" for e in index))
    return into


def test_failures_decisions_and_odd_numbers_over_three_resources_count_once(tmp_path: Path) -> None:
    derived = replayed(tmp_path, str(_quirk_scenario(tmp_path / "scenario")))
    assert figures(derived.agent("codex")) == QUIRK_EXPECTED
    assert [d["date"] for d in derived.summary["by_day"]] == ["2026-11-23"]
    (session,) = derived.sessions
    assert session["id"] == CONV
    assert "adapter failed" not in derived.stderr


# -- the adapter on its own -------------------------------------------------------------
RESOURCE = {**SHARED, "host.name": "vm"}
ORIGIN = Origin(b"r" * 16, "codex_exec", RESOURCE, "codex_otel.log_only", "codex")


def _log(attrs: dict[str, Any], key: bytes = b"k" * 16) -> LogRow:
    # time_ns is the observed time, as the view sets it for timeUnixNano = 0.
    return LogRow(
        key, ORIGIN.resource_key, b"c" * 16, T0, 0, T0, 9, "INFO", "", None, json.dumps(attrs), None, 0, b"", b"", 0
    )


def _span_row(name: str, attrs: dict[str, Any], span_id: bytes = b"s" * 8) -> SpanRow:
    return SpanRow(
        span_id * 2, ORIGIN.resource_key, b"c" * 16, b"t" * 16, span_id, b"", name, 1,
        T0, T0 + 2_000_000, 0, "", json.dumps(attrs), None, 0, None, None, "", 0,
    )  # fmt: skip


def _point(name: str, attrs: dict[str, Any], value: int | None = None, total: float | None = None) -> PointRow:
    kind = "sum" if value is not None else "histogram"
    return PointRow(
        b"p" * 16, ORIGIN.resource_key, b"c" * 16, name, "", kind, 1, True, T0, T0 + 1,
        value, 1 if total is not None else None, total, None, None, None, json.dumps(attrs), None, 0,
    )  # fmt: skip


def test_the_completion_is_the_call_with_string_or_int_numbers_and_its_first_record_is_none() -> None:
    first = {"event.name": "codex.sse_event", "event.kind": "response.completed", "duration_ms": "19", **COMMON}
    assert ADAPTER.log(ORIGIN, _log(first), first) == []
    usage: dict[str, Any] = {"input_token_count": "5555", "output_token_count": "120", "cached_token_count": 4096}
    usage |= {"cache_write_token_count": 0, "reasoning_token_count": 64}
    as_ints = {k: int(v) for k, v in usage.items()}
    facts = [ADAPTER.log(ORIGIN, _log({**first, **u}), {**first, **u}) for u in (usage, as_ints)]
    for (call,) in facts:
        assert (call.kind, call.session, call.model, call.rank) == (Kind.REQUEST, CONV, "gpt-5.5", 0)
        assert (call.requests, call.errors) == (1, 0)
        assert (call.input_tokens, call.cache_read_tokens, call.cache_write_tokens) == (5555, 4096, 0)
        assert (call.output_tokens, call.reasoning_tokens, call.cost_usd) == (120, 64, None)


def test_a_successful_api_request_is_counted_by_its_completion_a_failed_one_by_itself() -> None:
    def facts(**attrs: object) -> list[Any]:
        a = {"event.name": "codex.api_request", **attrs, **COMMON}
        return ADAPTER.log(ORIGIN, _log(a), a)

    assert facts(**{"http.response.status_code": 200}) == []
    assert facts(**{"http.response.status_code": "200"}) == []
    assert facts() == []  # says nothing: not made a failure
    for failed in (
        {"http.response.status_code": 429},
        {"http.response.status_code": "503"},
        {"error.message": "connection refused"},
        {"success": "false", "http.response.status_code": 200},
    ):
        (call,) = facts(**failed)
        assert (call.requests, call.errors, call.kind) == (1, 1, Kind.REQUEST), failed
        assert call.error


def test_tool_records_of_one_call_share_a_key_and_decisions_are_read_as_codex_words() -> None:
    def tool(name: str, **attrs: object) -> Any:
        a = {"event.name": name, "tool_name": "apply_patch", "call_id": "call_1", **attrs, **COMMON}
        (fact,) = ADAPTER.log(ORIGIN, _log(a), a)
        return fact

    decided = tool("codex.tool_decision", decision="approved", source="Config")
    result = tool("codex.tool_result", success="true", duration_ms="2")
    span_attrs = {"tool_name": "apply_patch", "call_id": "call_1", "codex.tool.phase": "dispatch", **COMMON}
    (spanned,) = ADAPTER.span(ORIGIN, _span_row("apply_patch", span_attrs), span_attrs)
    assert decided.key == result.key == spanned.key
    assert (decided.tool_accepted, decided.tool_rejected, decided.decision_source) == (1, 0, "Config")
    assert (result.success, result.duration_ms, result.tool_calls) == (True, 2.0, 1)
    assert (spanned.rank, spanned.duration_ms, spanned.kind) == (1, 2.0, Kind.TOOL)
    for word, counts in [
        ("approved_for_session", (1, 0)),
        ("approved_execpolicy_amendment", (1, 0)),
        ("denied", (0, 1)),
        ("abort", (0, 1)),
        ("maybe", (None, None)),
    ]:
        fact = tool("codex.tool_decision", decision=word)
        assert (fact.tool_accepted, fact.tool_rejected) == counts, word


def test_spans_give_calls_links_and_tools_and_reject_the_rest() -> None:
    usage: dict[str, Any] = {"gen_ai.usage.input_tokens": 5555, "gen_ai.usage.cache_read.input_tokens": 4096}
    usage |= {"gen_ai.usage.cache_write.input_tokens": 0, "gen_ai.usage.output_tokens": 120}
    usage |= {"codex.usage.reasoning_output_tokens": 64}
    (call,) = ADAPTER.span(ORIGIN, _span_row("handle_responses", usage), usage)
    assert (call.kind, call.rank, call.session, call.trace_id) == (Kind.REQUEST, 1, "", b"t" * 16)
    assert (call.input_tokens, call.cache_read_tokens, call.cache_write_tokens) == (5555, 4096, 0)
    assert (call.output_tokens, call.reasoning_tokens) == (120, 64)
    (link,) = ADAPTER.span(ORIGIN, _span_row("run_turn", COMMON), COMMON)
    assert (link.kind, link.session, link.trace_id) == (Kind.LINK, CONV, b"t" * 16)
    turn: dict[str, Any] = {"codex.turn.token_usage.input_tokens": 16665, "model": "gpt-5.5"}
    noise: list[tuple[str, dict[str, Any]]] = [
        ("handle_responses", {"codex.response.receive_wait_ms": 0.01}),  # an SSE event, no usage
        ("session_task.turn", turn),  # the turn's sums
        ("fs.get_metadata", {"sandboxed": False}),
        ("guardian_scoring_observation", {"call_id": "call_1", "tool_name": "apply_patch"}),
        ("run_turn", {"turn.id": "t1"}),  # names no session: no link
    ]
    for name, attrs in noise:
        assert ADAPTER.span(ORIGIN, _span_row(name, attrs), attrs) == [], name


def test_metrics_are_rank_two_and_the_totals_are_not_added() -> None:
    def facts(name: str, attrs: dict[str, Any], **value: Any) -> list[Any]:
        return ADAPTER.point(ORIGIN, _point(name, attrs, **value), attrs)

    (inp,) = facts("codex.turn.token_usage", {**TAGS, "token_type": "input"}, total=16665.0)
    (cached,) = facts("codex.turn.token_usage", {**TAGS, "token_type": "cached_input"}, total=12288.0)
    assert (inp.input_tokens, inp.cache_read_tokens, inp.rank, inp.kind) == (16665, None, 2, Kind.USAGE)
    assert (cached.input_tokens, cached.cache_read_tokens) == (None, 12288)  # inside input already
    assert facts("codex.turn.token_usage", {**TAGS, "token_type": "total"}, total=17025.0) == []
    (failed,) = facts("codex.api_request", {**TAGS, "success": "false"}, value=2)
    assert (failed.requests, failed.errors, failed.session) == (2, 2, "")
    (tools,) = facts("codex.tool.call", {**TAGS, "tool": "exec_command", "success": "true"}, value=1)
    assert (tools.kind, tools.tool_calls, tools.tool_accepted, tools.name) == (Kind.TOOL, 1, None, "exec_command")
    assert facts("codex.sse_event", TAGS, value=3) == []


def test_one_installations_three_resources_share_one_home_and_another_team_does_not() -> None:
    logs = ORIGIN
    metrics = Origin(b"m" * 16, "codex_exec", {**SHARED, "os": "Debian", "os_version": "12.0.0"}, "x", "codex")
    traces = Origin(b"t" * 16, "codex_exec", SHARED, "codex_exec", "codex")
    other = Origin(b"o" * 16, "codex_exec", {**SHARED, "team": "data"}, "codex_exec", "codex")
    assert home_of(logs) == home_of(metrics) == home_of(traces) != home_of(other)


def test_odd_values_give_no_exception() -> None:
    odd: dict[str, Any] = {"event.name": "codex.sse_event", "event.kind": "response.completed"}
    odd |= {"input_token_count": "many"}
    odd |= {"output_token_count": [], "conversation.id": 7, "model": None}
    assert ADAPTER.log(ORIGIN, _log(odd), odd) == []  # neither count is a number: not a call
    odd["output_token_count"] = "3.0"
    (call,) = ADAPTER.log(ORIGIN, _log(odd), odd)
    assert (call.input_tokens, call.output_tokens, call.session, call.model) == (None, 3, "", None)
    weird: dict[str, Any] = {"event.name": "codex.tool_result", "call_id": 5, "success": "perhaps", "duration_ms": "x"}
    (tool,) = ADAPTER.log(ORIGIN, _log(weird), weird)
    assert (tool.tool_calls, tool.success, tool.duration_ms) == (1, None, None)
    assert ADAPTER.log(ORIGIN, _log({"event.name": 3}), {"event.name": 3}) == []
    nan = {**TAGS, "token_type": "input"}
    assert ADAPTER.point(ORIGIN, _point("codex.turn.token_usage", nan, total=float("nan")), nan) == []


def test_codex_is_recognised_by_scope_service_and_name() -> None:
    assert all(ADAPTER.owns_scope(s) for s in ("codex_exec", "codex_otel.log_only", "codex_otel::metrics::client"))
    assert all(ADAPTER.owns_service(s) for s in ("codex_exec", "codex_cli_rs", "codex_vscode", "codex-tui"))
    assert not any(ADAPTER.owns_service(s) for s in ("codexa", "claude-code", None))
    assert ADAPTER.owns_name("codex.sse_event") and not ADAPTER.owns_name("gen_ai.client.token.usage")
