"""OpenCode: the captured scenario replayed into a real listener, plus its quirks.

Stub table (tests/fixtures/README.md, Chat Completions): every call is prompt 3210 *of
which* cached 2048, completion 77, no reasoning and no cache-write field. OpenCode made
4 calls (a title call without tools + 3) and 2 tool calls (write, bash). The stub's
account would be requests 4, input 4 × 3210 = 12840, output 4 × 77 = 308, cache_read
4 × 2048 = 8192, tool calls 2.

What arrived in otlp_env_aisdk_telemetry (counted in test_the_payload_lost_its_tail_...):
2 trace POSTs of exactly 512 spans; among them 2 `ai.streamText.doStream` (the title call,
finish "stop", and the first main call, finish "tool-calls" → write), their 2 parent
`ai.streamText` roll-ups, 2 `Tool.execute` and 2 `ai.toolCall` (write call_9a3592e240a8,
bash call_a3edf2182de7). The model spans of the last two calls (the one that asked for
bash, and the final answer) were still queued at exit and never arrived; the bash tool
spans, which end first, did. So, read correctly:
  sessions       1   (session.id ses_df87f3f1cffe8SargY4whoW7x9; opencode.run is a process)
  requests       2   (2 doStream; the stub made 4 — OpenCode lost 2 at exit)
  errors         0
  input_tokens   2 × 3210 = 6420   (ai.usage.inputTokens: cache already inside)
  output_tokens  2 × 77 = 154
  cache_read     2 × 2048 = 4096
  cache_write    —   (no cacheWriteTokens attribute: Chat Completions has no such field)
  reasoning      2 × 0 = 0   (the AI SDK reports ai.usage.reasoningTokens 0: a reported 0)
  cost_usd       —   (OpenCode sends no cost in OTLP)
  lines, commits, pull requests  —   (not sent)
  tool_calls     2   (4 spans: Tool.execute + ai.toolCall merged per call id; as the stub)
  accepted, rejected  —   (no decision records)
The 2 ai.streamText parents repeat their doStream's usage and are never counted (they
would make it 4 requests and 12840 input, by coincidence the stub's figures).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Mapping

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from agentwatch.normalise.adapters.base import Origin
from agentwatch.normalise.adapters.opencode import ADAPTER
from agentwatch.records import Kind, LogRow, SpanRow
from support.accounting import figures, replayed
from support.replay import FIXTURES
from support.otlp_build import key_values

SCENARIO = "opencode/otlp_env_aisdk_telemetry"
SESSION = "ses_df87f3f1cffe8SargY4whoW7x9"

CAPTURED = {
    "sessions": 1,
    "requests": 2,
    "errors": 0,
    "input_tokens": 6420,
    "output_tokens": 154,
    "cache_read_tokens": 4096,
    "cache_write_tokens": None,
    "reasoning_tokens": 0,
    "cost_usd": None,
    "lines_added": None,
    "lines_removed": None,
    "commits": None,
    "pull_requests": None,
    "tool_calls": 2,
    "tool_accepted": None,
    "tool_rejected": None,
}


def test_the_captured_turn_counts_what_arrived(tmp_path: Path) -> None:
    derived = replayed(tmp_path, SCENARIO)
    assert figures(derived.agent("opencode")) == CAPTURED
    assert figures(derived.summary["totals"]) == CAPTURED
    assert [d["date"] for d in derived.summary["by_day"]] == ["2026-11-23"]
    assert "adapter failed" not in derived.stderr
    models = {r["model"]: r for r in derived.summary["by_model"]}
    # Tool spans name no model: each is filed under the call before it (the bash call's own
    # model span was lost at exit, so it goes under the write call's model, the same one).
    assert models["gpt-4.1"]["requests"] == 2 and models["gpt-4.1"]["tool_calls"] == 2
    assert None not in models
    (session,) = derived.sessions
    assert (session["agent"], session["id"], session["models"]) == ("opencode", SESSION, ["gpt-4.1"])
    assert session["requests"] == 2 and session["input_tokens"] == 6420 and session["tool_calls"] == 2


def _spans_of(scenario: Path) -> list[dict[str, Any]]:
    spans = []
    for body in sorted((scenario / "otlp").glob("*_traces.json")):
        for rs in json.loads(body.read_text())["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                spans += ss["spans"]
    return spans


def _attr(span: dict[str, Any], key: str) -> Any:
    for kv in span.get("attributes", []):
        if kv["key"] == key:
            return next(iter(kv["value"].values()))
    return None


def test_the_payload_lost_its_tail_two_of_four_model_calls_arrived() -> None:
    # The hand count behind CAPTURED, read from the fixture itself, not through agentwatch.
    spans = _spans_of(FIXTURES / SCENARIO)
    assert len(spans) == 2 * 512
    by_name: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        by_name.setdefault(span["name"], []).append(span)
    calls = by_name["ai.streamText.doStream"]
    assert [_attr(s, "ai.response.finishReason") for s in calls] == ["stop", "tool-calls"]
    assert [_attr(s, "ai.usage.inputTokens") for s in calls] == [3210, 3210]
    assert [_attr(s, "ai.usage.inputTokenDetails.noCacheTokens") for s in calls] == [1162, 1162]
    assert [_attr(s, "ai.usage.reasoningTokens") for s in calls] == [0, 0]
    assert all(_attr(s, "ai.usage.inputTokenDetails.cacheWriteTokens") is None for s in calls)
    assert len(by_name["ai.streamText"]) == 2
    executed = {_attr(s, "tool.call_id"): _attr(s, "session.id") for s in by_name["Tool.execute"]}
    announced = {_attr(s, "ai.toolCall.id"): _attr(s, "session.id") for s in by_name["ai.toolCall"]}
    # The two records of each tool call name the same call id and session: they merge.
    assert executed == announced == {"call_9a3592e240a8": SESSION, "call_a3edf2182de7": SESSION}


def _without_ai_spans(scenario: Path, into: Path) -> Path:
    """A copy of the scenario as OpenCode sends it without experimental.openTelemetry."""
    shutil.copytree(scenario / "otlp", into / "otlp")
    index = []
    for line in (into / "otlp" / "index.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry["signal"] == "traces":
            body = into / "otlp" / f"{entry['seq']:04d}_{entry['transport']}_traces.json"
            data = json.loads(body.read_text())
            kept = 0
            for rs in data["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    ss["spans"] = [s for s in ss["spans"] if not s["name"].startswith("ai.")]
                    kept += len(ss["spans"])
            body.write_text(json.dumps(data))
            entry["records"] = kept
        index.append(json.dumps(entry))
    (into / "otlp" / "index.jsonl").write_text("\n".join(index) + "\n")
    return into


def test_without_the_telemetry_flag_requests_and_tokens_are_unknown_not_zero(tmp_path: Path) -> None:
    # Only the non-ai.* spans: 2 Tool.execute spans and no model-call record at all.
    # (An absolute path as the scenario id: FIXTURES / "/abs" is "/abs".)
    trimmed = _without_ai_spans(FIXTURES / SCENARIO, tmp_path / "no_flag")
    derived = replayed(tmp_path, str(trimmed))
    assert figures(derived.agent("opencode")) == {
        "sessions": 1,  # the tool calls carry session.id
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
        "tool_calls": 2,  # write and bash, from Tool.execute alone
        "tool_accepted": None,
        "tool_rejected": None,
    }


# -- quirks, on spans built with protobuf ----------------------------------------------
T0 = 1_795_422_210_000_000_000  # 2026-11-23, inside the summary's window
RESOURCE = {
    "service.name": "opencode",
    "service.version": "1.18.33",
    "opencode.run": "0b498725",
    "service.instance.id": "0b498725",
    "deployment.environment.name": "latest",
    "team": "platform",
}






def _span(
    trace: int, span: int, name: str, attrs: dict[str, object], *, parent: int = 0, error: bool = False
) -> Span:
    return Span(
        trace_id=trace.to_bytes(16, "big"),
        span_id=span.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=T0 + span * 1_000_000,
        end_time_unix_nano=T0 + span * 1_000_000 + 500_000,
        attributes=key_values(attrs),
        status=Status(code=Status.STATUS_CODE_ERROR, message="boom") if error else Status(),
    )


def _usage(inp: object, out: object, **extra: object) -> dict[str, object]:
    return {"gen_ai.request.model": "gpt-4.1", "ai.usage.inputTokens": inp, "ai.usage.outputTokens": out, **extra}


COLLIDING = "chatcmpl-7"
REASONING = "ai.usage.reasoningTokens"
OLLAMA = {"session.id": "ses_ollama", "gen_ai.response.id": COLLIDING}
QUIRK_SPANS = [
    # ses_reasoning: a reasoning model's call and its ai.streamText parent, which repeats the
    # usage. Numbers as strings; the session only in ai.telemetry.metadata.sessionId.
    _span(1, 1, "ai.streamText", {"session.id": "ses_reasoning", **_usage(5000, 120, **{REASONING: 64})}),
    _span(
        1,
        2,
        "ai.streamText.doStream",
        {
            "ai.telemetry.metadata.sessionId": "ses_reasoning",
            "gen_ai.response.id": "resp-1",
            "gen_ai.response.model": "o4-mini",
            **_usage(
                "5000",
                "120",
                **{
                    "ai.usage.inputTokenDetails.noCacheTokens": 1000,
                    "ai.usage.inputTokenDetails.cacheReadTokens": 3000,
                    "ai.usage.inputTokenDetails.cacheWriteTokens": 1000,
                    "ai.usage.outputTokenDetails.textTokens": 56,
                    "ai.usage.outputTokenDetails.reasoningTokens": "64",
                    REASONING: 64,
                },
            ),
        },
        parent=1,
    ),
    # ses_ollama: two calls whose response ids collide (Ollama's chatcmpl-<0..998>), and a
    # failed call that carries no usage.
    _span(2, 3, "ai.streamText.doStream", {**OLLAMA, **_usage(100, 10)}),
    _span(2, 4, "ai.streamText.doStream", {**OLLAMA, **_usage(100, 10)}),
    _span(2, 5, "ai.streamText.doStream", {"session.id": "ses_ollama", "gen_ai.request.model": "gpt-4.1"}, error=True),
    # ses_tools: one call seen twice (merged by id), one whose ai.toolCall has no id, and
    # internal spans (one naming a session) that are not activity.
    _span(3, 6, "Tool.execute", {"session.id": "ses_tools", "tool.name": "write", "tool.call_id": "call_a"}),
    _span(3, 7, "ai.toolCall", {"session.id": "ses_tools", "ai.toolCall.name": "write", "ai.toolCall.id": "call_a"}),
    _span(3, 8, "Tool.execute", {"session.id": "ses_tools", "tool.name": "bash", "tool.call_id": "call_b"}),
    _span(3, 9, "ai.toolCall", {"session.id": "ses_tools", "ai.toolCall.name": "bash"}),
    _span(3, 10, "Session.get", {"session.id": "ses_internal"}),
    _span(3, 11, "sql.execute", {"db.query.text": "select 1"}),
]


def _scenario_of(spans: list[Span], into: Path) -> Path:
    """A one-request scenario folder (the layout replay reads) holding these spans as protobuf."""
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=key_values(RESOURCE)),
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name="opencode", version="1.18.33"), spans=spans)],
            )
        ]
    )
    otlp = into / "otlp"
    otlp.mkdir(parents=True)
    (otlp / "0001_http_traces.pb").write_bytes(request.SerializeToString())
    headers = {"path": "/v1/traces", "headers": {"Content-Type": "application/x-protobuf"}}
    (otlp / "0001_http_traces.headers.json").write_text(json.dumps(headers))
    entry = {
        "seq": 1,
        "transport": "http",
        "signal": "traces",
        "content_type": "application/x-protobuf",
        "records": len(spans),
    }
    (otlp / "index.jsonl").write_text(json.dumps(entry) + "\n")
    return into


@pytest.fixture(scope="module")
def quirks(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("opencode_quirks")
    return replayed(tmp, str(_scenario_of(QUIRK_SPANS, tmp / "scenario")))


def _session(derived: Any, sid: str) -> dict[str, Any]:
    (row,) = [s for s in derived.sessions if s["id"] == sid]
    return row


def test_reasoning_is_a_part_of_output_and_the_roll_up_is_not_counted(quirks: Any) -> None:
    row = _session(quirks, "ses_reasoning")
    # One call (the ai.streamText parent adds nothing): input 5000 = 1000 + 3000 + 1000,
    # output 120 of which reasoning 64 (120 + 64 = 184 would be wrong).
    assert row["models"] == ["o4-mini"]
    assert (row["requests"], row["errors"]) == (1, 0)
    assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == (5000, 3000, 1000)
    assert (row["output_tokens"], row["reasoning_tokens"]) == (120, 64)
    assert row["tool_calls"] is None


def test_calls_with_colliding_response_ids_stay_apart_and_a_failed_call_is_an_error(quirks: Any) -> None:
    row = _session(quirks, "ses_ollama")
    # 3 calls: 2 with usage (100 / 10 each) and 1 failed without usage.
    assert (row["requests"], row["errors"]) == (3, 1)
    assert (row["input_tokens"], row["output_tokens"]) == (200, 20)
    assert (row["cache_read_tokens"], row["cache_write_tokens"], row["reasoning_tokens"]) == (None, None, None)


def test_tool_calls_merge_by_call_id_and_internal_spans_are_no_activity(quirks: Any) -> None:
    row = _session(quirks, "ses_tools")
    # call_a: Tool.execute + ai.toolCall = 1; call_b: Tool.execute = 1 (its ai.toolCall has no id).
    assert row["tool_calls"] == 2
    assert row["requests"] is None and row["input_tokens"] is None
    # ses_internal (a Session.get span) and the resource's opencode.run are not sessions.
    assert sorted(s["id"] for s in quirks.sessions) == ["ses_ollama", "ses_reasoning", "ses_tools"]
    assert quirks.agent("opencode")["sessions"] == 3
    assert "adapter failed" not in quirks.stderr


# -- the adapter on its own -------------------------------------------------------------
ORIGIN = Origin(b"r" * 16, "opencode", RESOURCE, "opencode", "opencode")


def _row(name: str, attrs: Mapping[str, object], span_id: bytes = b"s" * 8) -> SpanRow:
    return SpanRow(
        dedup_key=span_id * 2,
        resource_key=ORIGIN.resource_key,
        scope_key=b"c" * 16,
        trace_id=b"t" * 16,
        span_id=span_id,
        parent_span_id=b"",
        name=name,
        kind=1,
        start_ns=T0,
        end_ns=T0 + 2_000_000,
        status_code=1,
        status_message="",
        attributes=json.dumps(attrs),
        elided=None,
        dropped_attributes=0,
        events=None,
        links=None,
        trace_state="",
        flags=0,
    )


def test_both_records_of_a_tool_call_get_one_key() -> None:
    executed = {"session.id": "ses_1", "tool.name": "bash", "tool.call_id": "call_x"}
    announced = {"session.id": "ses_1", "ai.toolCall.name": "bash", "ai.toolCall.id": "call_x"}
    (a,) = ADAPTER.span(ORIGIN, _row("Tool.execute", executed, b"1" * 8), executed)
    (b,) = ADAPTER.span(ORIGIN, _row("ai.toolCall", announced, b"2" * 8), announced)
    assert a.key == b.key and a.kind is b.kind is Kind.TOOL
    assert (a.name, a.session, a.tool_calls, a.success, a.duration_ms) == ("bash", "ses_1", 1, True, 2.0)


def test_odd_values_and_noise_give_no_facts_and_no_exception() -> None:
    odd = {"session.id": 7, "ai.usage.inputTokens": "many", "ai.usage.outputTokens": None, "gen_ai.response.model": []}
    (call,) = ADAPTER.span(ORIGIN, _row("ai.streamText.doStream", odd), odd)
    assert (call.requests, call.errors, call.session, call.model) == (1, 0, "", None)
    assert (call.input_tokens, call.output_tokens, call.cache_read_tokens, call.reasoning_tokens) == (None,) * 4
    assert ADAPTER.span(ORIGIN, _row("ai.streamText", odd), odd) == []
    assert ADAPTER.span(ORIGIN, _row("Config.get", {}), {}) == []
    log = LogRow(b"k", b"r", b"c", T0, T0, T0, 9, "Info", "", '["created", "{}"]', "{}", None, 0, b"", b"", 0)
    assert ADAPTER.log(ORIGIN, log, {"fiberId": 1}) == []


def test_the_release_channel_is_not_an_environment_label() -> None:
    attrs = {"session.id": "ses_1", "tool.name": "bash", "tool.call_id": "call_x"}
    (fact,) = ADAPTER.span(ORIGIN, _row("Tool.execute", attrs), attrs)
    assert json.loads(fact.labels or "{}") == {"team": "platform"}
