"""GitHub Copilot CLI and the Copilot SDK's runtime: captured scenarios, then quirks built with the SDK.

Hand arithmetic from tests/fixtures/README.md, Chat Completions stub: per call prompt 3210
of which cached 2048, completion 77; no reasoning and no cache-write field. One turn = 3
model calls and 2 tool calls (create, bash). BYOK, so Copilot's own cost is 0.0.

Copilot CLI 1.0.102 (copilot-cli/http_protobuf):
  requests     3   (`chat gpt-4.1` spans)
  input        3 × 3210 = 9630   (Copilot's input includes cache reads, like ours)
  output       3 × 77 = 231
  cache_read   3 × 2048 = 6144
  cache_write  0   the chat spans carry no cache-write or reasoning attribute, but the
  reasoning    0   `gen_ai.client.inference.usage.*` metrics report both as 0: precedence is
                    per family, so the best source that carries each family counts it
  cost_usd     3 × 0.0 = 0.0   (`github.copilot.cost`, reported 0.0: not null)
  lines        added 6 (`github.copilot.code.lines_added`, cumulative: hello.py as Copilot
               wrote it), removed 0 (no removed metric: the family is carried, so 0)
  commits, PRs —
  tool_calls   2 (execute_tool create, bash); decisions — (--allow-all-tools: no permission spans)
  The invoke_agent span (9630 / 231) is a roll-up: not added.

Copilot SDK 1.0.14 (copilot-sdk/sdk_telemetry_default, service.name github-copilot → copilot-cli).
It reports every usage value twice; what it reported is shown, not corrected:
  requests     3   6 `chat` spans, of which the 3 without usage or response id count nothing
  input        3 × 6420 = 19260   (the stub's 3 × 3210 = 9630, doubled by the SDK)
  output       3 × 154 = 462      (stub 231, doubled)
  cache_read   3 × 4096 = 12288   (stub 6144, doubled)
  cache_write, reasoning —; cost_usd 3 × 0.0 = 0.0
  lines        added 12 (the 6-line file, doubled), removed 0
  tool_calls   2   4 execute_tool spans, 2 per gen_ai.tool.call.id
  accepted     2   `permission` spans with result approved (write, shell); their duplicates
  rejected     0   carry no result
  The invoke_agent span (19260 / 462) and gen_ai.client.token.usage (19260 / 462) repeat the calls.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Callable, Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Tracer

from support.accounting import Derived, figures, replayed, summary_json
from support.listener import Listener, start_listener
from support.replay import FIXTURES, requests_of, send_http

CLI = {
    "sessions": 1,
    "requests": 3,
    "errors": 0,
    "input_tokens": 9630,
    "output_tokens": 231,
    "cache_read_tokens": 6144,
    "cache_write_tokens": 0,  # from the inference.usage metrics: the spans do not carry it
    "reasoning_tokens": 0,  # likewise
    "cost_usd": 0.0,
    "lines_added": 6,
    "lines_removed": 0,
    "commits": None,
    "pull_requests": None,
    "tool_calls": 2,
    "tool_accepted": None,
    "tool_rejected": None,
}

SDK = {
    "sessions": 1,
    "requests": 3,
    "errors": 0,
    "input_tokens": 19260,  # doubled by the SDK: the stub sent 9630
    "output_tokens": 462,  # doubled: 231
    "cache_read_tokens": 12288,  # doubled: 6144
    "cache_write_tokens": None,
    "reasoning_tokens": None,
    "cost_usd": 0.0,
    "lines_added": 12,  # doubled: 6
    "lines_removed": 0,
    "commits": None,
    "pull_requests": None,
    "tool_calls": 2,
    "tool_accepted": 2,
    "tool_rejected": 0,
}

SCENARIOS = [("copilot-cli/http_protobuf", CLI), ("copilot-sdk/sdk_telemetry_default", SDK)]


@pytest.mark.parametrize(("scenario", "expected"), SCENARIOS, ids=[s for s, _ in SCENARIOS])
def test_a_captured_turn_is_counted_once_from_its_chat_spans(tmp_path: Path, scenario: str, expected: dict) -> None:
    derived = replayed(tmp_path, scenario)
    assert figures(derived.agent("copilot-cli")) == expected
    assert figures(derived.summary["totals"]) == expected
    assert derived.agent("copilot-cli")["cost_usd"] is not None  # a reported 0.0 is a cost of 0.0
    assert "adapter failed" not in derived.stderr


def test_sessions_lists_the_conversation(tmp_path: Path) -> None:
    derived = replayed(tmp_path, "copilot-sdk/sdk_telemetry_default")
    (session,) = derived.sessions
    assert session["agent"] == "copilot-cli"
    assert session["id"] == "a7096eac-aa88-41ac-bb25-857cd4e48a5e"
    assert session["models"] == ["gpt-4.1"]
    assert session["requests"] == 3 and session["tool_calls"] == 2


def test_cli_and_sdk_in_one_store_are_one_agent_with_two_sessions(tmp_path: Path) -> None:
    derived = replayed(tmp_path, *(s for s, _ in SCENARIOS))
    assert [r["agent"] for r in derived.summary["by_agent"]] == ["copilot-cli"]
    got = derived.agent("copilot-cli")
    assert got["sessions"] == 2 and got["requests"] == 6
    assert got["input_tokens"] == 9630 + 19260 and got["lines_added"] == 6 + 12
    assert got["tool_accepted"] == 2  # only the SDK run had permission spans


def test_replaying_the_sdk_run_twice_counts_it_once(tmp_path: Path) -> None:
    derived = replayed(tmp_path, "copilot-sdk/sdk_telemetry_default", "copilot-sdk/sdk_telemetry_default")
    assert figures(derived.agent("copilot-cli")) == SDK


# -- metrics without traces: the fallbacks ----------------------------------------------------
def metrics_only(tmp: Path, scenario: str) -> Derived:
    """Replay only a scenario's metrics requests (as if traces were lost)."""
    db = tmp / "agentwatch.db"
    srv = start_listener(db)
    try:
        for req in requests_of(FIXTURES / scenario):
            if req.signal == "metrics":
                status, _ = send_http(srv.http_port, req)
                assert status == 200
        derived = Derived(summary_json(db), [], "")
    finally:
        srv.stop()
    return derived


def test_cli_metrics_alone_give_tokens_tools_and_lines_but_no_requests(tmp_path: Path) -> None:
    got = figures(metrics_only(tmp_path, "copilot-cli/http_protobuf").agent("copilot-cli"))
    assert got == {
        "sessions": 0,  # no metric point names a session
        "requests": None,  # metrics count no calls
        "errors": None,
        "input_tokens": 9630,  # gen_ai.client.inference.usage.input_tokens (cumulative, first point whole)
        "output_tokens": 231,
        "cache_read_tokens": 6144,
        "cache_write_tokens": 0,  # the metric reports 0: a reported 0 stays 0
        "reasoning_tokens": 0,
        "cost_usd": None,  # cost is only on the chat spans
        "lines_added": 6,
        "lines_removed": 0,
        "commits": None,
        "pull_requests": None,
        "tool_calls": 2,  # github.copilot.tool.call.count: create 1 + bash 1
        "tool_accepted": None,
        "tool_rejected": None,
    }


def test_sdk_metrics_alone_fall_back_to_the_token_usage_histogram(tmp_path: Path) -> None:
    got = figures(metrics_only(tmp_path, "copilot-sdk/sdk_telemetry_default").agent("copilot-cli"))
    # gen_ai.client.token.usage chat points: input 19260, output 462 (doubled, as reported);
    # the cache has no token type in it, so cache reads are unknown.
    tokens = (got["requests"], got["input_tokens"], got["output_tokens"], got["cache_read_tokens"])
    assert tokens == (None, 19260, 462, None)
    assert (got["lines_added"], got["tool_calls"]) == (12, 2)


# -- permission decisions and the scope over service.name (real SDK) -------------------------
@pytest.fixture
def served(tmp_path: Path) -> Iterator[Listener]:
    srv = start_listener(tmp_path / "agentwatch.db")
    yield srv
    srv.stop()


def export_spans(srv: Listener, service: str, scene: Callable[[Tracer], None]) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{srv.http_url}/v1/traces")))
    scene(provider.get_tracer("github.copilot", "0.0.0"))
    assert provider.force_flush(10_000)
    provider.shutdown()


def tool_with_permission(tracer: Tracer, call_id: str, kind: str, results: list[str | None]) -> None:
    """A tool span and its permission spans (the SDK sends each twice, the copy without a result)."""
    with tracer.start_as_current_span(f"execute_tool {kind}") as tool:
        tool.set_attributes({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": kind})
        tool.set_attributes({"gen_ai.tool.call.id": call_id, "gen_ai.conversation.id": "conv-perm"})
        for result in results:
            with tracer.start_as_current_span("permission") as permission:
                permission.set_attribute("gen_ai.conversation.id", "conv-perm")
                permission.set_attribute("github.copilot.permission.kind", kind)
                if result is not None:
                    permission.set_attribute("github.copilot.permission.result", result)


def decisions(tracer: Tracer) -> None:
    tool_with_permission(tracer, "call-1", "write", ["approved", None])
    # A decision reported twice for one tool (same parent span) is one decision.
    tool_with_permission(tracer, "call-2", "shell", ["denied", "denied"])
    with tracer.start_as_current_span("chat gpt-4.1") as call:
        call.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.conversation.id": "conv-perm"})
        call.set_attributes({"gen_ai.response.id": "r-1", "gen_ai.usage.input_tokens": 100})
        call.set_attribute("gen_ai.usage.output_tokens", 5)
        call.set_attribute("github.copilot.cost", 0.0125)


def test_permission_spans_are_decisions_and_the_scope_names_the_agent(served: Listener) -> None:
    # A globally exported OTEL_SERVICE_NAME gives Copilot another name; its scope still says Copilot.
    export_spans(served, "my-shell-wide-service-name", decisions)
    today = datetime.datetime.now(datetime.timezone.utc).date()
    day = datetime.timedelta(days=1)
    summary = summary_json(served.db, str(today - day), str(today + day))
    rows = {r["agent"]: figures(r) for r in summary["by_agent"]}
    got = rows.pop("copilot-cli")
    assert rows == {}  # the made-up service name leaves no row of its own
    assert (got["sessions"], got["tool_calls"], got["tool_accepted"], got["tool_rejected"]) == (1, 2, 1, 1)
    assert (got["requests"], got["input_tokens"], got["cost_usd"]) == (1, 100, pytest.approx(0.0125))
