"""Gemini CLI: both captured scenarios replayed into a real listener, plus its quirks.

Hand arithmetic from tests/fixtures/README.md (Gemini stub): every call returned prompt
4567 *of which* cached 2048, candidates 89 *plus* thoughts 44 (total 4700: thoughts are
not inside candidates), tool-use prompt 0. One turn = a router call on
gemini-3.5-flash-lite + 3 calls on gemini-3.8-flash, and 2 tool calls (write_file,
run_shell_command). Ours count thoughts inside output:
  sessions       1   (session.id 5c36500e-… / 72f35a60-…: resource, points and logs)
  requests       4   (4 gemini_cli.api_response events: 1 router + 3 main)
  errors         0   (all status 200; no api_error)
  input_tokens   4 × (4567 + 0) = 18268   (prompt, cache inside; + tool-use prompt 0)
  output_tokens  4 × (89 + 44) = 532       (candidates + thoughts)
  cache_read     4 × 2048 = 8192
  cache_write    —   (Gemini reports no cache writes)
  reasoning      4 × 44 = 176
  cost_usd       —   (Gemini CLI reports none)
  lines          added 6, removed 0   (gemini_cli.lines.changed type=added 6; no removed
                                       point, the family is carried so removed is 0. The
                                       file_operation events say lines 7: the file's lines,
                                       never counted)
  commits, PRs   —
  tool_calls     2, accepted 2 (decision "accept"), rejected 0
by model: gemini-3.5-flash-lite 1 request, input 4567, output 133, cache 2048, reasoning
44; gemini-3.8-flash 3 requests, input 3 × 4567 = 13701, output 3 × 133 = 399, cache
3 × 2048 = 6144, reasoning 3 × 44 = 132.
The same calls also arrive as gemini_cli.token.usage / api.request.count metrics
(cumulative: input 4567 + 13701, output 89 + 267, thought 44 + 132, cache 2048 + 6144,
requests 1 + 3), as gen_ai.client.token.usage (input and output only), as
gen_ai.client.inference.operation.details events and as 4 llm_call spans: each is
counted once. Both scenarios send the same turn (http_traces_enabled only turns on a
setting that changes nothing: Gemini sends its spans either way).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Mapping

import pytest

from agentwatch.normalise.adapters import registry
from agentwatch.normalise.adapters.base import Origin
from agentwatch.normalise.adapters.gemini_cli import ADAPTER, diff_stats
from agentwatch.records import Kind, LogRow, PointRow, SpanRow
from support.accounting import Derived, figures, replayed
from support.replay import FIXTURES
from support.otlp_build import json_key_values

SCENARIOS = ["gemini-cli/http_default", "gemini-cli/http_traces_enabled"]

ONE_TURN = {
    "sessions": 1,
    "requests": 4,
    "errors": 0,
    "input_tokens": 18268,
    "output_tokens": 532,
    "cache_read_tokens": 8192,
    "cache_write_tokens": None,
    "reasoning_tokens": 176,
    "cost_usd": None,
    "lines_added": 6,
    "lines_removed": 0,
    "commits": None,
    "pull_requests": None,
    "tool_calls": 2,
    "tool_accepted": 2,
    "tool_rejected": 0,
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_captured_turn_is_counted_once_from_events_metrics_and_spans(tmp_path: Path, scenario: str) -> None:
    derived = replayed(tmp_path, scenario)
    assert figures(derived.agent("gemini-cli")) == ONE_TURN
    assert figures(derived.summary["totals"]) == ONE_TURN
    assert [r["agent"] for r in derived.summary["by_agent"]] == ["gemini-cli"]
    assert [d["date"] for d in derived.summary["by_day"]] == ["2026-11-23"]
    assert "adapter failed" not in derived.stderr


def test_the_router_model_and_the_main_model_are_apart(tmp_path: Path) -> None:
    derived = replayed(tmp_path, "gemini-cli/http_default")
    models = {r["model"]: r for r in derived.summary["by_model"]}
    assert set(models) == {"gemini-3.5-flash-lite", "gemini-3.8-flash"}
    router, main = models["gemini-3.5-flash-lite"], models["gemini-3.8-flash"]
    # Router: 1 call, 4567 in, 89 + 44 = 133 out; main: 3 calls, 3 × 4567, 3 × 133.
    assert (router["requests"], router["input_tokens"], router["output_tokens"]) == (1, 4567, 133)
    assert (router["cache_read_tokens"], router["reasoning_tokens"]) == (2048, 44)
    assert (main["requests"], main["input_tokens"], main["output_tokens"]) == (3, 13701, 399)
    assert (main["cache_read_tokens"], main["reasoning_tokens"]) == (6144, 132)
    # Tool events and lines.changed name no model: they are filed under the call before them,
    # which is a main call each time (the router's comes first and asks for no tool).
    assert router["tool_calls"] is None and router["lines_added"] is None
    assert (main["tool_calls"], main["lines_added"]) == (2, 6)
    (session,) = derived.sessions
    assert (session["agent"], session["id"]) == ("gemini-cli", "5c36500e-1afb-48ba-9811-63d792b3f420")
    assert session["models"] == ["gemini-3.5-flash-lite", "gemini-3.8-flash"]
    assert (session["requests"], session["output_tokens"], session["tool_calls"]) == (4, 532, 2)


def test_two_scenarios_in_one_store_are_two_sessions_and_two_turns(tmp_path: Path) -> None:
    derived = replayed(tmp_path, *SCENARIOS, SCENARIOS[0])  # the first one re-sent: counted once
    totals = derived.summary["totals"]
    assert totals["sessions"] == 2
    assert (totals["requests"], totals["input_tokens"], totals["output_tokens"]) == (2 * 4, 2 * 18268, 2 * 532)
    assert (totals["tool_calls"], totals["lines_added"]) == (2 * 2, 2 * 6)


# -- the fallbacks: the same capture with some signals left out --------------------------
def _only(scenario: str, signals: set[str], into: Path) -> Path:
    """A copy of a captured scenario that sends only some of its signals."""
    shutil.copytree(FIXTURES / scenario / "otlp", into / "otlp")
    index = into / "otlp" / "index.jsonl"
    kept = [line for line in index.read_text().splitlines() if json.loads(line)["signal"] in signals]
    index.write_text("\n".join(kept) + "\n")
    return into


def test_without_events_the_metrics_give_the_same_figures(tmp_path: Path) -> None:
    # token.usage (cumulative, one export): input 4567 + 13701 = 18268, output 89 + 267 plus
    # thought 44 + 132 = 532, cache 2048 + 6144, tool 0 + 0; api.request.count 1 + 3 (200);
    # tool.call.count 1 + 1 (accept); lines.changed added 6. The llm_call spans rank below.
    derived = replayed(tmp_path, str(_only("gemini-cli/http_default", {"metrics", "traces"}, tmp_path / "m")))
    assert figures(derived.agent("gemini-cli")) == ONE_TURN


def test_without_metrics_the_lines_come_from_the_tool_call_metadata(tmp_path: Path) -> None:
    # write_file's tool_call event: metadata {"model_added_lines": 6, "model_removed_lines": 0, …}.
    derived = replayed(tmp_path, str(_only("gemini-cli/http_default", {"logs", "traces"}, tmp_path / "l")))
    assert figures(derived.agent("gemini-cli")) == ONE_TURN


def test_spans_alone_give_the_calls_but_no_usage_and_no_decisions(tmp_path: Path) -> None:
    # 4 llm_call spans (no usage attributes at all) and 2 tool_call spans (call ids, no decision).
    derived = replayed(tmp_path, str(_only("gemini-cli/http_default", {"traces"}, tmp_path / "s")))
    assert figures(derived.agent("gemini-cli")) == {
        "sessions": 1,  # gen_ai.conversation.id
        "requests": 4,
        "errors": 0,
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
        "tool_calls": 2,
        "tool_accepted": None,
        "tool_rejected": None,
    }


# -- quirks, on OTLP/JSON built by hand in Gemini's shape --------------------------------
T0 = 1_795_415_570_000_000_000  # 2026-11-23 06:32:50 UTC, inside the summary's window






def _resource(session: str, service: str = "gemini-cli") -> dict[str, Any]:
    # service.version is Node's, as Gemini CLI sends it.
    return {"attributes": json_key_values({"service.name": service, "service.version": "v20.20.2", "session.id": session})}


def _event(session: str, n: int, name: str, **attrs: object) -> dict[str, Any]:
    t = str(T0 + n * 1_000_000)
    body = {"stringValue": f"{name} (prose, not a name)"}
    full = {"session.id": session, "event.name": f"gemini_cli.{name}", **attrs}
    return {"timeUnixNano": t, "observedTimeUnixNano": t, "body": body, "attributes": json_key_values(full)}


def _logs(session: str, records: list[dict[str, Any]], service: str = "gemini-cli") -> dict[str, Any]:
    scope = {"scope": {"name": "gemini-cli"}, "logRecords": records}
    return {"resourceLogs": [{"resource": _resource(session, service), "scopeLogs": [scope]}]}


def _sum(name: str, session: str, total: int, at: int, **attrs: object) -> dict[str, Any]:
    point = {
        "attributes": json_key_values({"session.id": session, **attrs}),
        "startTimeUnixNano": str(T0),
        "timeUnixNano": str(T0 + at * 1_000_000_000),
        "asInt": total,
    }
    return {"name": name, "sum": {"dataPoints": [point], "aggregationTemporality": 2, "isMonotonic": True}}


def _metrics(session: str, metrics: list[dict[str, Any]]) -> dict[str, Any]:
    scope = {"scope": {"name": "gemini-cli", "version": ""}, "metrics": metrics}
    return {"resourceMetrics": [{"resource": _resource(session), "scopeMetrics": [scope]}]}


def json_scenario(into: Path, requests: list[tuple[str, dict[str, Any]]]) -> Path:
    """A scenario folder (the layout replay reads) of OTLP/JSON requests, as Gemini sends them."""
    otlp = into / "otlp"
    otlp.mkdir(parents=True)
    index = []
    for seq, (signal, body) in enumerate(requests, 1):
        stem = f"{seq:04d}_http_{signal}"
        (otlp / f"{stem}.json").write_text(json.dumps(body))
        headers = {"path": f"/v1/{signal}", "headers": {"Content-Type": "application/json"}}
        (otlp / f"{stem}.headers.json").write_text(json.dumps(headers))
        entry = {"seq": seq, "transport": "http", "signal": signal, "content_type": "application/json", "records": 1}
        index.append(json.dumps(entry))
    (otlp / "index.jsonl").write_text("\n".join(index) + "\n")
    return into


USAGE = {
    "input_token_count": 1000,
    "output_token_count": 10,
    "cached_content_token_count": 400,
    "thoughts_token_count": 5,
    "tool_token_count": 20,
    "total_token_count": 1035,  # 1000 + 10 + 5 + 20: thoughts and tool prompt are outside
}
LINES_JSON = '{\n  "model_added_lines": 3,\n  "model_removed_lines": 2,\n  "user_added_lines": 1\n}'
LINES_9 = '{"model_added_lines": 9, "model_removed_lines": 9}'

QUIRKS = [
    # s-calls: one answered call (numbers as strings) and one that failed with a 429.
    (
        "logs",
        _logs(
            "s-calls",
            [
                _event("s-calls", 1, "api_response", model="gemini-pro", status_code=200, duration_ms=30,
                       **{k: str(v) for k, v in USAGE.items()}),
                _event("s-calls", 2, "api_error", model="gemini-pro", status_code=429, duration_ms=5,
                       error="Quota exceeded", **{"error.type": "RESOURCE_EXHAUSTED"}),
                # The GenAI copy of the answered call, with input and output only: not counted.
                {**_event("s-calls", 3, "x"), "attributes": json_key_values({
                    "session.id": "s-calls", "event.name": "gen_ai.client.inference.operation.details",
                    "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 10})},
            ],
        ),
    ),
    # s-tools: decisions reject / modify / none; a modified edit's diff stats as JSON text;
    # a globally exported OTEL_SERVICE_NAME: the scope still says gemini-cli.
    (
        "logs",
        _logs(
            "s-tools",
            [
                _event("s-tools", 4, "tool_call", function_name="run_shell_command", decision="reject",
                       success=False, duration_ms=1),
                _event("s-tools", 5, "tool_call", function_name="replace", decision="modify", success=True,
                       duration_ms=7, metadata=LINES_JSON),
                _event("s-tools", 6, "tool_call", function_name="read_file", success=True, duration_ms=2),
                _event("s-tools", 7, "file_operation", tool_name="replace", operation="update", lines=120),
            ],
            service="platform-tools",
        ),
    ),
    # s-lines: lines.changed (added 4, removed 1) outranks the metadata's 9 and 9.
    ("logs", _logs("s-lines", [_event("s-lines", 8, "tool_call", function_name="replace", decision="accept",
                                      success=True, metadata=LINES_9)])),
    ("metrics", _metrics("s-lines", [
        _sum("gemini_cli.lines.changed", "s-lines", 4, 1, type="added", function_name="replace"),
        _sum("gemini_cli.lines.changed", "s-lines", 1, 1, type="removed", function_name="replace"),
        _sum("gemini_cli.file.operation.count", "s-lines", 1, 1, operation="update", lines=120),
    ])),
    # s-metrics: metrics alone, exported twice (cumulative) and the second export re-sent.
    ("metrics", _metrics("s-metrics", [
        _sum("gemini_cli.api.request.count", "s-metrics", 2, 1, model="gemini-pro", status_code=200),
        _sum("gemini_cli.token.usage", "s-metrics", 300, 1, model="gemini-pro", type="input"),
        _sum("gemini_cli.token.usage", "s-metrics", 12, 1, model="gemini-pro", type="output"),
        _sum("gemini_cli.token.usage", "s-metrics", 20, 1, model="gemini-pro", type="thought"),
        _sum("gemini_cli.token.usage", "s-metrics", 100, 1, model="gemini-pro", type="cache"),
        _sum("gemini_cli.session.count", "s-metrics", 1, 1),
    ])),
    ("metrics", _metrics("s-metrics", [
        _sum("gemini_cli.api.request.count", "s-metrics", 3, 2, model="gemini-pro", status_code=200),
        # A failed call: once with error_type, and once more through the response path.
        _sum("gemini_cli.api.request.count", "s-metrics", 1, 2, model="gemini-pro", status_code=503,
             error_type="ServerError"),
        _sum("gemini_cli.api.request.count", "s-metrics", 1, 2, model="gemini-pro", status_code=503),
        _sum("gemini_cli.token.usage", "s-metrics", 450, 2, model="gemini-pro", type="input"),
        _sum("gemini_cli.token.usage", "s-metrics", 20, 2, model="gemini-pro", type="output"),
        _sum("gemini_cli.token.usage", "s-metrics", 30, 2, model="gemini-pro", type="thought"),
        _sum("gemini_cli.token.usage", "s-metrics", 100, 2, model="gemini-pro", type="cache"),
        _sum("gemini_cli.token.usage", "s-metrics", 15, 2, model="gemini-pro", type="tool"),
        _sum("gemini_cli.tool.call.count", "s-metrics", 1, 2, function_name="replace", decision="reject",
             success=False),
        {"name": "gen_ai.client.token.usage", "histogram": {"aggregationTemporality": 2, "dataPoints": [
            {"attributes": json_key_values({"session.id": "s-metrics", "gen_ai.token.type": "input"}),
             "startTimeUnixNano": str(T0), "timeUnixNano": str(T0 + 2_000_000_000), "count": 3, "sum": 450.0}]}},
    ])),
]
QUIRKS.append(QUIRKS[-1])  # a re-sent export adds nothing


@pytest.fixture(scope="module")
def quirks(tmp_path_factory: pytest.TempPathFactory) -> Derived:
    tmp = tmp_path_factory.mktemp("gemini_quirks")
    return replayed(tmp, str(json_scenario(tmp / "scenario", QUIRKS)))


def _session(derived: Derived, sid: str) -> dict[str, Any]:
    (row,) = [s for s in derived.sessions if s["id"] == sid]
    return row


def test_thoughts_and_tool_prompt_are_added_and_an_api_error_is_a_failed_call(quirks: Derived) -> None:
    row = _session(quirks, "s-calls")
    # 2 calls, 1 failed. Input 1000 + tool-use prompt 20 = 1020 (cache 400 inside);
    # output 10 + thoughts 5 = 15; the GenAI details event adds nothing.
    assert (row["requests"], row["errors"]) == (2, 1)
    assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == (1020, 400, None)
    assert (row["output_tokens"], row["reasoning_tokens"]) == (15, 5)
    assert row["models"] == ["gemini-pro"]
    assert row["tool_calls"] is None and row["lines_added"] is None


def test_decisions_modify_is_accepted_and_a_call_without_decision_has_none(quirks: Derived) -> None:
    row = _session(quirks, "s-tools")
    assert (row["tool_calls"], row["tool_accepted"], row["tool_rejected"]) == (3, 1, 1)
    # No lines.changed for this session: the metadata's model lines (3, 2), not the user's
    # and not file_operation's 120.
    assert (row["lines_added"], row["lines_removed"]) == (3, 2)
    assert row["agent"] == "gemini-cli"  # service.name said platform-tools; the scope decides


def test_the_lines_metric_outranks_the_event_metadata(quirks: Derived) -> None:
    row = _session(quirks, "s-lines")
    assert (row["lines_added"], row["lines_removed"]) == (4, 1)
    assert (row["tool_calls"], row["tool_accepted"], row["tool_rejected"]) == (1, 1, 0)


def test_cumulative_metrics_count_their_increase_and_a_failed_call_once(quirks: Derived) -> None:
    row = _session(quirks, "s-metrics")
    # Requests: 200s reach 3, plus 1 failed (the error_type point; its 503 twin is skipped).
    assert (row["requests"], row["errors"]) == (4, 1)
    # Last totals: input 450 + tool 15 = 465, output 20 + thought 30 = 50, cache 100.
    assert (row["input_tokens"], row["output_tokens"], row["reasoning_tokens"]) == (465, 50, 30)
    assert (row["cache_read_tokens"], row["cache_write_tokens"]) == (100, None)
    assert (row["tool_calls"], row["tool_accepted"], row["tool_rejected"]) == (1, 0, 1)
    assert row["lines_added"] is None


def test_the_quirk_sessions_and_nothing_else(quirks: Derived) -> None:
    assert sorted(s["id"] for s in quirks.sessions) == ["s-calls", "s-lines", "s-metrics", "s-tools"]
    assert quirks.agent("gemini-cli")["sessions"] == 4
    # Every record is filed under gemini-cli, the scope's agent: the resource that said
    # service.name=platform-tools leaves no row of its own.
    assert [row["agent"] for row in quirks.summary["by_agent"]] == ["gemini-cli"]
    assert "adapter failed" not in quirks.stderr


# -- the adapter on its own -------------------------------------------------------------
RESOURCE = {"service.name": "gemini-cli", "service.version": "v20.20.2", "session.id": "s-res", "host.name": "vm"}
ORIGIN = Origin(b"r" * 16, "gemini-cli", RESOURCE, "gemini-cli", "gemini-cli")


def _log(attrs: Mapping[str, object]) -> LogRow:
    return LogRow(b"k" * 16, b"r" * 16, b"c" * 16, T0, T0, T0, 0, "", "", '"prose"', json.dumps(attrs), None, 0,
                  b"", b"", 0)


def _point(name: str, value: int | None, attrs: Mapping[str, object]) -> PointRow:
    return PointRow(b"p" * 16, b"r" * 16, b"c" * 16, name, "", "sum", 2, True, T0, T0 + 1, value, None, None,
                    None, None, None, json.dumps(attrs), None, 0)


def _span(name: str, attrs: Mapping[str, object], status: int = 1) -> SpanRow:
    return SpanRow(b"s" * 16, b"r" * 16, b"c" * 16, b"t" * 16, b"i" * 8, b"", name, 1, T0, T0 + 3_000_000,
                   status, "", json.dumps(attrs), None, 0, None, None, "", 0)


def test_gemini_records_are_found_by_scope_service_or_name() -> None:
    assert registry.adapter_for("whatever-OTEL_SERVICE_NAME-says", "gemini-cli") is ADAPTER
    assert registry.adapter_for("gemini-cli", "") is ADAPTER
    assert registry.adapter_for_name("gemini_cli.api_response") is ADAPTER
    assert not ADAPTER.owns_name("qwen-code.api_response") and not ADAPTER.owns_scope("qwen-code")


def test_the_session_falls_back_to_the_resource() -> None:
    attrs = {"event.name": "gemini_cli.api_response", "model": "m", "input_token_count": 1}
    (call,) = ADAPTER.log(ORIGIN, _log(attrs), attrs)
    assert (call.session, call.kind, call.requests, call.errors, call.input_tokens) == ("s-res", Kind.REQUEST, 1, 0, 1)
    # Token fields the event did not carry are unknown, not 0.
    assert (call.output_tokens, call.cache_read_tokens, call.reasoning_tokens) == (None, None, None)


def test_spans_are_calls_and_tools_with_the_lowest_precedence() -> None:
    attrs = {"gen_ai.request.model": "gemini-3.8-flash", "gen_ai.conversation.id": "s-span"}
    (call,) = ADAPTER.span(ORIGIN, _span("llm_call", attrs, status=2), attrs)
    assert (call.kind, call.rank, call.session, call.requests, call.errors, call.model) == (
        Kind.REQUEST, 2, "s-span", 1, 1, "gemini-3.8-flash")
    assert call.input_tokens is None and call.duration_ms == 3.0
    tool = {"gen_ai.tool.name": "write_file", "gen_ai.tool.call_id": "write_file_1", "gen_ai.conversation.id": "s"}
    (a,) = ADAPTER.span(ORIGIN, _span("tool_call", tool), tool)
    (b,) = ADAPTER.span(ORIGIN, _span("tool_call", tool), tool)
    assert a.key == b.key  # one call id, one fact
    assert (a.kind, a.rank, a.tool_calls, a.success, a.tool_accepted) == (Kind.TOOL, 2, 1, True, None)
    assert ADAPTER.span(ORIGIN, _span("schedule_tool_calls", {}), {}) == []


def test_odd_values_give_no_exception() -> None:
    odd: dict[str, object] = {
        "event.name": "gemini_cli.api_response",
        "session.id": 7,
        "input_token_count": "many",
        "output_token_count": None,
        "thoughts_token_count": -3,
        "status_code": "oops",
        "model": [],
    }
    (call,) = ADAPTER.log(ORIGIN, _log(odd), odd)
    assert (call.session, call.model, call.requests, call.errors) == ("s-res", None, 1, 1)
    assert (call.input_tokens, call.output_tokens, call.reasoning_tokens) == (None, None, None)
    tool = {"event.name": "gemini_cli.tool_call", "decision": 3, "success": "true", "metadata": "{not json"}
    (fact,) = ADAPTER.log(ORIGIN, _log(tool), tool)
    assert (fact.tool_calls, fact.tool_accepted, fact.success) == (1, None, True)
    assert ADAPTER.log(ORIGIN, _log({"event.name": 5}), {"event.name": 5}) == []
    assert ADAPTER.point(ORIGIN, _point("gemini_cli.token.usage", None, {}), {}) == []
    assert ADAPTER.point(ORIGIN, _point("gemini_cli.token.usage", 5, {"type": "weird"}), {"type": "weird"}) == []
    twin = {"status_code": "ok"}  # a failed call's second record, made without a status
    assert ADAPTER.point(ORIGIN, _point("gemini_cli.api.request.count", 1, twin), twin) == []
    assert ADAPTER.point(ORIGIN, _point("gen_ai.client.token.usage", 9, {}), {}) == []


def test_diff_stats_read_json_text_and_key_value_lists() -> None:
    assert diff_stats('{"model_added_lines": 6, "model_removed_lines": 0}') == (6, 0)
    assert diff_stats({"model_added_lines": "2", "model_removed_lines": 1}) == (2, 1)
    assert diff_stats(None) == (None, None) and diff_stats("[1]") == (None, None)
