"""Qwen Code: the captured scenario replayed into a real listener, plus its quirks.

Hand arithmetic from tests/fixtures/README.md (Chat Completions stub): every call returned
prompt 3210 *of which* cached 2048, completion 77, no reasoning, no cache-write field.
Qwen made 3 calls (no title or router call) and 2 tool calls (write_file,
run_shell_command). Its api_response events carry the usage converted to Gemini's
shape: input_token_count 3210, cached_content_token_count 2048, output_token_count 77,
thoughts_token_count 0, total_token_count 3287 = 3210 + 77 (so thoughts, had there been
any, would be inside the 77, as Chat Completions counts them).
  sessions       1   (session.id 5d839fac-…: resource and every record)
  requests       3   (3 qwen-code.api_response events, status 200)
  errors         0
  input_tokens   3 × 3210 = 9630   (prompt, cache already inside)
  output_tokens  3 × 77 = 231
  cache_read     3 × 2048 = 6144
  cache_write    —   (no such field)
  reasoning      3 × 0 = 0   (Qwen sends thoughts_token_count 0: a reported 0)
  cost_usd       —   (Qwen reports none)
  lines          added 6, removed 0   (write_file's tool_call metadata, a key-value list:
                                       model_added_lines 6, model_removed_lines 0; the
                                       file_operation event's lines 7 is the file's size)
  commits, PRs   —
  tool_calls     2, accepted 2 (decision "auto_accept": --yolo), rejected 0
The metrics repeat the calls (qwen-code.token.usage input 9630, output 231, cache 6144,
thought 0; api.request.count 3; tool.call.count 1 + 1): counted once.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Mapping

import pytest

from agentwatch.normalise.adapters import gemini_cli, registry
from agentwatch.normalise.adapters.base import Origin
from agentwatch.normalise.adapters.qwen_code import ADAPTER, thoughts_on_top
from agentwatch.records import LogRow, SpanRow
from support.accounting import Derived, figures, replayed
from support.replay import FIXTURES
from support.otlp_build import json_key_values

SCENARIO = "qwen-code/http"
SESSION = "5d839fac-ac38-4fb5-8ea5-6ef077683533"

ONE_TURN = {
    "sessions": 1,
    "requests": 3,
    "errors": 0,
    "input_tokens": 9630,
    "output_tokens": 231,
    "cache_read_tokens": 6144,
    "cache_write_tokens": None,
    "reasoning_tokens": 0,
    "cost_usd": None,
    "lines_added": 6,
    "lines_removed": 0,
    "commits": None,
    "pull_requests": None,
    "tool_calls": 2,
    "tool_accepted": 2,
    "tool_rejected": 0,
}


def test_the_captured_turn_is_counted_once_from_events_and_metrics(tmp_path: Path) -> None:
    derived = replayed(tmp_path, SCENARIO, SCENARIO)  # sent twice: counted once
    assert figures(derived.agent("qwen-code")) == ONE_TURN
    assert figures(derived.summary["totals"]) == ONE_TURN
    assert [r["agent"] for r in derived.summary["by_agent"]] == ["qwen-code"]
    assert [d["date"] for d in derived.summary["by_day"]] == ["2026-11-23"]
    assert "adapter failed" not in derived.stderr
    models = {r["model"]: r for r in derived.summary["by_model"]}
    assert set(models) == {"qwen3-coder-plus"}
    assert (models["qwen3-coder-plus"]["requests"], models["qwen3-coder-plus"]["input_tokens"]) == (3, 9630)
    # Tool events name no model: they are filed under the call before them, with their lines.
    assert (models["qwen3-coder-plus"]["tool_calls"], models["qwen3-coder-plus"]["lines_added"]) == (2, 6)
    (session,) = derived.sessions
    assert (session["agent"], session["id"], session["models"]) == ("qwen-code", SESSION, ["qwen3-coder-plus"])
    assert (session["requests"], session["output_tokens"], session["lines_added"]) == (3, 231, 6)


def test_the_diff_stats_arrive_whole_under_the_content_policy() -> None:
    # The hand count behind lines 6/0, read from the fixture itself, not through agentwatch.
    body = json.loads((FIXTURES / SCENARIO / "otlp" / "0001_http_logs.json").read_text())
    calls = []
    for rl in body["resourceLogs"]:
        for sl in rl["scopeLogs"]:
            for record in sl["logRecords"]:
                attrs = {kv["key"]: kv["value"] for kv in record["attributes"]}
                if attrs["event.name"] == {"stringValue": "qwen-code.tool_call"}:
                    calls.append(attrs)
    assert len(calls) == 2
    stats = {kv["key"]: kv["value"] for kv in calls[0]["metadata"]["kvlistValue"]["values"]}
    assert (stats["model_added_lines"], stats["model_removed_lines"]) == ({"intValue": 6}, {"intValue": 0})
    assert calls[1]["metadata"] == {}  # run_shell_command: null metadata


def _only(signals: set[str], into: Path) -> Path:
    shutil.copytree(FIXTURES / SCENARIO / "otlp", into / "otlp")
    index = into / "otlp" / "index.jsonl"
    kept = [line for line in index.read_text().splitlines() if json.loads(line)["signal"] in signals]
    index.write_text("\n".join(kept) + "\n")
    return into


def test_without_events_the_metrics_give_usage_and_tools_but_no_lines(tmp_path: Path) -> None:
    # qwen-code.token.usage: input 9630, output 231, cache 6144, thought 0 (a part of output);
    # api.request.count 3 (200); tool.call.count 1 + 1 (auto_accept). Qwen has no lines metric.
    derived = replayed(tmp_path, str(_only({"metrics"}, tmp_path / "m")))
    assert figures(derived.agent("qwen-code")) == {
        **ONE_TURN,
        "lines_added": None,
        "lines_removed": None,
    }


# -- quirks, on OTLP/JSON built by hand in Qwen's shape ----------------------------------
T0 = 1_795_415_692_000_000_000  # 2026-11-23 06:34:52 UTC






def _event(session: str, n: int, name: str, **attrs: object) -> dict[str, Any]:
    t = str(T0 + n * 1_000_000)
    full = {"session.id": session, "event.name": f"qwen-code.{name}", **attrs}
    return {"timeUnixNano": t, "observedTimeUnixNano": t, "body": {"stringValue": "prose"}, "attributes": json_key_values(full)}


def _usage(inp: int, out: int, thoughts: int, total: int | None, auth: str) -> dict[str, object]:
    usage: dict[str, object] = {
        "model": "qwen3-coder-plus",
        "status_code": 200,
        "input_token_count": inp,
        "output_token_count": out,
        "cached_content_token_count": 0,
        "thoughts_token_count": thoughts,
        "auth_type": auth,
    }
    if total is not None:
        usage["total_token_count"] = total
    return usage


SESSIONS: dict[str, list[dict[str, Any]]] = {
    # A reasoning model behind Chat Completions: completion 120 *of which* reasoning 64
    # (total 5000 + 120 = 5120): output stays 120.
    "q-openai": [
        _event("q-openai", 1, "api_response", response_id="chatcmpl-1", **_usage(5000, 120, 64, 5120, "openai"))
    ],
    # The Gemini API through Qwen: candidates 89 *plus* thoughts 44 (total 4567 + 89 + 44 = 4700).
    "q-gemini": [_event("q-gemini", 2, "api_response", response_id="r-2", **_usage(4567, 89, 44, 4700, "gemini"))],
    # No total to tell: the auth type decides (openai: inside; vertex-ai: on top).
    "q-untold": [
        _event("q-untold", 3, "api_response", response_id="r-3", **_usage(100, 30, 10, None, "openai")),
        _event("q-untold", 4, "api_response", response_id="r-4", **_usage(100, 30, 10, None, "vertex-ai")),
    ],
    # A failed call (the same response id as an answered one elsewhere: ids are not keys),
    # a rejected edit with no diff stats and an edit with model and user lines.
    "q-tools": [
        _event("q-tools", 5, "api_response", response_id="chatcmpl-1", **_usage(10, 1, 0, 11, "openai")),
        _event("q-tools", 6, "api_error", response_id="chatcmpl-x", model="qwen3-coder-plus", status_code=429,
               error_message="Request failed with status 429", error_type="RateLimitError", duration_ms=3),
        _event("q-tools", 7, "tool_call", function_name="edit", decision="reject", status="cancelled",
               success=False, duration_ms=1),
        _event("q-tools", 8, "tool_call", function_name="edit", decision="proceed_once", status="success",
               success=True, metadata={"model_added_lines": 4, "model_removed_lines": 3, "user_added_lines": 2}),
        _event("q-tools", 9, "file_operation", tool_name="edit", operation="update", lines=200),
    ],
}


def _scenario(into: Path) -> Path:
    otlp = into / "otlp"
    otlp.mkdir(parents=True)
    index = []
    for seq, (sid, records) in enumerate(SESSIONS.items(), 1):
        resource = {"attributes": json_key_values({"service.name": "qwen-code", "service.version": "0.15.10", "session.id": sid})}
        scope_logs = [{"scope": {"name": "qwen-code"}, "logRecords": records}]
        body = {"resourceLogs": [{"resource": resource, "scopeLogs": scope_logs}]}
        stem = f"{seq:04d}_http_logs"
        (otlp / f"{stem}.json").write_text(json.dumps(body))
        headers = {"path": "/v1/logs", "headers": {"Content-Type": "application/json"}}
        (otlp / f"{stem}.headers.json").write_text(json.dumps(headers))
        entry = {"seq": seq, "transport": "http", "signal": "logs", "content_type": "application/json",
                 "records": len(records)}
        index.append(json.dumps(entry))
    (otlp / "index.jsonl").write_text("\n".join(index) + "\n")
    return into


@pytest.fixture(scope="module")
def quirks(tmp_path_factory: pytest.TempPathFactory) -> Derived:
    tmp = tmp_path_factory.mktemp("qwen_quirks")
    return replayed(tmp, str(_scenario(tmp / "scenario")))


def _session(derived: Derived, sid: str) -> dict[str, Any]:
    (row,) = [s for s in derived.sessions if s["id"] == sid]
    return row


def test_thoughts_are_inside_output_from_chat_completions_and_on_top_from_gemini(quirks: Derived) -> None:
    openai, gemini = _session(quirks, "q-openai"), _session(quirks, "q-gemini")
    assert (openai["input_tokens"], openai["output_tokens"], openai["reasoning_tokens"]) == (5000, 120, 64)
    assert (gemini["input_tokens"], gemini["output_tokens"], gemini["reasoning_tokens"]) == (4567, 133, 44)
    untold = _session(quirks, "q-untold")
    # openai: 30 of which 10; vertex-ai: 30 + 10. Output 30 + 40 = 70, reasoning 10 + 10.
    assert (untold["requests"], untold["output_tokens"], untold["reasoning_tokens"]) == (2, 70, 20)


def test_errors_decisions_and_lines(quirks: Derived) -> None:
    row = _session(quirks, "q-tools")
    assert (row["requests"], row["errors"]) == (2, 1)
    assert (row["input_tokens"], row["output_tokens"]) == (10, 1)  # the failed call has no usage
    # "proceed_once" is no decision we know: counted as a call, not as accepted.
    assert (row["tool_calls"], row["tool_accepted"], row["tool_rejected"]) == (2, 0, 1)
    # The model's lines only (4, 3): not the user's 2, not file_operation's 200.
    assert (row["lines_added"], row["lines_removed"]) == (4, 3)
    # The answered call in q-openai has the same response id as q-tools' first call: both count.
    assert quirks.summary["totals"]["requests"] == 1 + 1 + 2 + 2
    assert quirks.agent("qwen-code")["sessions"] == 4
    assert "adapter failed" not in quirks.stderr


# -- the adapter on its own -------------------------------------------------------------
ORIGIN = Origin(b"r" * 16, "qwen-code", {"service.name": "qwen-code", "session.id": "q-res"}, "qwen-code", "qwen-code")


def _log(attrs: Mapping[str, object]) -> LogRow:
    return LogRow(b"k" * 16, b"r" * 16, b"c" * 16, T0, T0, T0, 0, "", "", '"prose"', json.dumps(attrs), None, 0,
                  b"", b"", 0)


def test_qwen_and_gemini_records_go_to_their_own_adapter() -> None:
    assert registry.adapter_for("some-OTEL_SERVICE_NAME", "qwen-code") is ADAPTER
    assert registry.adapter_for("qwen-code", "") is ADAPTER
    assert registry.adapter_for_name("qwen-code.api_response") is ADAPTER
    assert registry.adapter_for_name("gemini_cli.api_response") is gemini_cli.ADAPTER
    # Gemini's own names under a Qwen scope are not Qwen's events.
    attrs = {"event.name": "gemini_cli.api_response", "input_token_count": 1}
    assert ADAPTER.log(ORIGIN, _log(attrs), attrs) == []


def test_thoughts_on_top_reads_the_total_first() -> None:
    assert thoughts_on_top({"input_token_count": 10, "output_token_count": 5, "thoughts_token_count": 2,
                            "total_token_count": 17}) is True
    assert thoughts_on_top({"input_token_count": 10, "output_token_count": 5, "thoughts_token_count": 2,
                            "total_token_count": 15, "auth_type": "gemini"}) is False
    assert thoughts_on_top({"thoughts_token_count": 0, "auth_type": "gemini"}) is False
    assert thoughts_on_top({"thoughts_token_count": "x", "total_token_count": None}) is False


def test_odd_values_give_no_exception_and_spans_nothing() -> None:
    odd: dict[str, object] = {"event.name": "qwen-code.api_response", "input_token_count": "3210",
                              "output_token_count": "77", "thoughts_token_count": "oops", "total_token_count": []}
    (call,) = ADAPTER.log(ORIGIN, _log(odd), odd)
    assert (call.session, call.requests, call.input_tokens, call.output_tokens, call.reasoning_tokens) == (
        "q-res", 1, 3210, 77, None)
    tool = {"event.name": "qwen-code.tool_call", "metadata": {"model_added_lines": "x"}, "decision": "auto_accept"}
    (fact,) = ADAPTER.log(ORIGIN, _log(tool), tool)  # no usable diff stats: no lines fact
    assert (fact.tool_calls, fact.tool_accepted, fact.tool_rejected) == (1, 1, 0)
    span = SpanRow(b"s" * 16, b"r" * 16, b"c" * 16, b"t" * 16, b"i" * 8, b"", "llm_call", 1, T0, T0 + 1, 1, "",
                   "{}", None, 0, None, None, "", 0)
    assert ADAPTER.span(ORIGIN, span, {"gen_ai.request.model": "m"}) == []
