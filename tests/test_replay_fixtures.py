"""Every captured agent scenario, replayed with its own transport, is stored completely.

Expected counts per scenario, written by hand once from the captures:
log records and spans are the `records` column of each scenario's index.jsonl
(summed over its log and trace requests); metric data points were counted in
the captures' decoded JSON (index.jsonl counts metrics, not points, for
metric requests). E.g. claude-code/http_protobuf_delta: 1 logs request of 12
records; metric requests of 14 + 6 points = 20; no traces.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from support.listener import Listener, query, start_listener
from support.replay import replay, scenario_id, scenarios

# scenario: (log records, metric data points, spans, agent)
EXPECTED: dict[str, tuple[int, int, int, str]] = {
    "claude-code/cumulative_run1_http_protobuf": (12, 72, 0, "claude-code"),
    "claude-code/enhanced_beta_traces_http_protobuf": (12, 25, 11, "claude-code"),
    "claude-code/grpc_delta": (12, 15, 0, "claude-code"),
    "claude-code/http_json_cumulative": (12, 15, 0, "claude-code"),
    "claude-code/http_protobuf_delta": (12, 20, 0, "claude-code"),
    "codex/http_binary_logprompt": (47, 196, 807, "codex"),
    "codex/http_json_default_prompt_redaction": (47, 256, 807, "codex"),
    "copilot-cli/http_protobuf": (0, 24, 6, "copilot-cli"),
    # The Copilot SDK's runtime reports service.name=github-copilot: the copilot-cli agent.
    "copilot-sdk/sdk_telemetry_default": (0, 18, 141, "copilot-cli"),
    "gemini-cli/http_default": (25, 37, 8, "gemini-cli"),
    "gemini-cli/http_traces_enabled": (25, 37, 8, "gemini-cli"),
    "genai-semconv-python/genai_anthropic_default_http_protobuf": (0, 6, 9, "genai-agent-app"),
    "genai-semconv-python/openai_v2_default_http_protobuf": (0, 7, 6, "genai-agent-app"),
    "goose/http_protobuf_default": (10, 9, 7, "goose"),
    "opencode/otlp_env_aisdk_telemetry": (35, 0, 1024, "opencode"),
    "qwen-code/http": (13, 14, 0, "qwen-code"),
}

PROMPT = "Create hello.py that prints a greeting"


def test_the_expected_table_covers_every_scenario() -> None:
    assert sorted(EXPECTED) == sorted(scenario_id(s) for s in scenarios())


def _stored(srv: Listener) -> tuple[int, int, int]:
    return srv.count("log_records"), srv.count("metric_points"), srv.count("spans")


def _agent_totals(db: Path) -> dict[str, tuple[int, int, int]]:
    rows = query(db, "SELECT agent, signal, rows FROM agent_totals")
    out: dict[str, list[int]] = {}
    for agent, signal, n in rows:
        out.setdefault(agent, [0, 0, 0])[["logs", "metrics", "traces"].index(signal)] = n
    return {agent: tuple(v) for agent, v in out.items()}  # type: ignore[misc]


@pytest.mark.parametrize("scenario", scenarios(), ids=scenario_id)
def test_every_captured_request_is_accepted_and_stored(listener: Listener, scenario: Path) -> None:
    logs, points, spans, agent = EXPECTED[scenario_id(scenario)]
    replay(scenario, listener.http_port, listener.grpc_port)
    assert _stored(listener) == (logs, points, spans)
    assert _agent_totals(listener.db) == {agent: (logs, points, spans)}


@pytest.mark.parametrize(
    "name", ["claude-code/http_protobuf_delta", "codex/http_json_default_prompt_redaction"]
)
def test_a_resent_scenario_is_not_stored_twice(listener: Listener, name: str) -> None:
    scenario = next(s for s in scenarios() if scenario_id(s) == name)
    logs, points, spans, agent = EXPECTED[name]
    replay(scenario, listener.http_port, listener.grpc_port)
    replay(scenario, listener.http_port, listener.grpc_port)
    assert _stored(listener) == (logs, points, spans)
    assert _agent_totals(listener.db) == {agent: (logs, points, spans)}
    # The second round is on record as batches that stored nothing.
    assert query(listener.db, "SELECT count(*) FROM batches WHERE stored = 0")[0][0] >= 1


def _dump(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def _replay_all(srv: Listener) -> None:
    for scenario in scenarios():
        replay(scenario, srv.http_port, srv.grpc_port)


def test_prompt_text_is_dropped_at_ingest_by_default(listener: Listener) -> None:
    # Claude (OTEL_LOG_USER_PROMPTS=1), Codex (log_user_prompt=true), Gemini and Qwen
    # (logPrompts, and the prompt inside process.command_args) all sent it.
    _replay_all(listener)
    assert PROMPT not in _dump(listener.db)
    # Its length is kept where it was: Codex's prompt attribute on codex.user_prompt,
    # 52 characters in http_binary_logprompt and "[REDACTED]" (10) in the default run.
    elided = query(
        listener.db,
        "SELECT json_extract(elided, '$.prompt') FROM log_records "
        "WHERE json_extract(attributes, '$.\"event.name\"') = 'codex.user_prompt'",
    )
    assert sorted(elided) == [(len("[REDACTED]"),), (len("Create hello.py that prints a greeting, then run it."),)]


def test_keep_content_stores_prompt_text_as_sent(tmp_path: Path) -> None:
    srv = start_listener(tmp_path / "kept.db", "--keep-content")
    try:
        _replay_all(srv)
        assert PROMPT in _dump(srv.db)
    finally:
        srv.stop()
