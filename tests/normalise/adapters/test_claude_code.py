"""Claude Code: every captured scenario, replayed into a real listener, read back by `summary`.

Hand arithmetic from tests/fixtures/README.md (Anthropic Messages stub): one turn =
a title call (input 210, output 12, no cache) + 3 main calls (input 1234, output 87,
cache_read 4321, cache_creation 567). Claude reports Anthropic's additive figures;
ours count cache inside input:
  requests       4                      (1 title + 3 main api_request events)
  input_tokens   210 + 3 × (1234 + 4321 + 567) = 210 + 18366 = 18576
  output_tokens  12 + 3 × 87 = 273
  cache_read     3 × 4321 = 12963
  cache_write    3 × 567 = 1701
  reasoning      —  (Anthropic reports none)
  cost_usd       0.00135 + 3 × 0.01404925 = 0.04349775  (the agent's own cost_usd, notional)
  lines          added 7, removed 0   (lines_of_code.count: hello.py is 7 lines; a 0 point for removed)
  commits, PRs   —  (no commit or pull_request metric was triggered)
  tool_calls     2  (Write, Bash; decision + result merged per tool_use_id), accepted 2, rejected 0
Every scenario sends the same turn over a different transport, temporality or signal mix
(metrics + events; the beta adds spans). The metrics repeat the events' tokens and cost,
and the beta spans repeat the calls: each is counted once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.accounting import figures, replayed

ONE_TURN = {
    "sessions": 1,
    "requests": 4,
    "errors": 0,
    "input_tokens": 18576,
    "output_tokens": 273,
    "cache_read_tokens": 12963,
    "cache_write_tokens": 1701,
    "reasoning_tokens": None,
    "cost_usd": pytest.approx(0.04349775),
    "lines_added": 7,
    "lines_removed": 0,
    "commits": None,
    "pull_requests": None,
    "tool_calls": 2,
    "tool_accepted": 2,
    "tool_rejected": 0,
}

SCENARIOS = [
    "claude-code/http_protobuf_delta",
    "claude-code/http_json_cumulative",
    "claude-code/grpc_delta",
    "claude-code/cumulative_run1_http_protobuf",
    "claude-code/enhanced_beta_traces_http_protobuf",
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_captured_turn_is_counted_once_from_events_metrics_and_spans(tmp_path: Path, scenario: str) -> None:
    derived = replayed(tmp_path, scenario)
    assert figures(derived.agent("claude-code")) == ONE_TURN
    assert figures(derived.summary["totals"]) == ONE_TURN
    assert [d["date"] for d in derived.summary["by_day"]] == ["2026-11-23"]
    assert "adapter failed" not in derived.stderr


def test_the_metrics_model_tag_is_dropped_so_one_model_holds_the_calls(tmp_path: Path) -> None:
    # Metrics say "claude-opus-4-8[1m]", events and lines "claude-opus-4-8": one model row.
    derived = replayed(tmp_path, "claude-code/http_protobuf_delta")
    models = {r["model"]: r for r in derived.summary["by_model"]}
    assert models["claude-opus-4-8"]["requests"] == 4
    assert models["claude-opus-4-8"]["lines_added"] == 7
    # Tool events name no model: each is filed under the call before it, which asked for it.
    assert models["claude-opus-4-8"]["tool_calls"] == 2
    assert None not in models


def test_sessions_lists_the_turn_with_its_figures(tmp_path: Path) -> None:
    derived = replayed(tmp_path, "claude-code/grpc_delta")
    (session,) = derived.sessions
    assert session["agent"] == "claude-code"
    assert session["models"] == ["claude-opus-4-8"]
    assert session["requests"] == 4 and session["input_tokens"] == 18576
    assert session["tool_calls"] == 2 and session["lines_added"] == 7


def test_five_scenarios_in_one_store_are_five_sessions_and_five_turns(tmp_path: Path) -> None:
    derived = replayed(tmp_path, *SCENARIOS)
    totals = derived.summary["totals"]
    assert totals["sessions"] == 5
    assert totals["requests"] == 5 * 4
    assert totals["input_tokens"] == 5 * 18576
    assert totals["tool_calls"] == 5 * 2


def test_replaying_a_scenario_twice_counts_it_once(tmp_path: Path) -> None:
    once = replayed(tmp_path / "a", "claude-code/http_json_cumulative")
    twice = replayed(tmp_path / "b", "claude-code/http_json_cumulative", "claude-code/http_json_cumulative")
    assert figures(twice.summary["totals"]) == figures(once.summary["totals"]) == ONE_TURN


def test_a_session_carries_the_user_and_team_the_agent_sent(tmp_path: Path) -> None:
    # http_protobuf_delta ran with OTEL_RESOURCE_ATTRIBUTES=team=platform,deployment.environment=local;
    # Claude copies them and its anonymous user.id onto every record.
    derived = replayed(tmp_path, "claude-code/http_protobuf_delta")
    (session,) = derived.sessions
    assert session["labels"] == {
        "deployment.environment": "local",
        "team": "platform",
        "user.id": "dbe40f60d03869a97f2385505ab58243901aa7d1c3e31f83500f2019a66e6b96",
    }
