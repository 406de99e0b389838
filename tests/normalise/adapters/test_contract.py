"""The adapter contract, checked on every registered adapter with every captured record.

Each adapter is handed every record of every scenario (not only its own agent's), as
the registry may route a stranger's record to it by name, and must answer with facts
of the one form: never raise, only known kinds, measures that are whole numbers (cost
a number) and never negative, each fact filed under the origin's agent.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

import pytest

from agentwatch.normalise.adapters import registry
from agentwatch.normalise.adapters.base import Adapter, Origin
from agentwatch.normalise.otlp_view import ViewPolicy, batch_of
from agentwatch.receive.decode import Encoding, decode
from agentwatch.records import MEASURES, Batch, Fact, Kind, Signal
from support.replay import requests_of, scenarios

ADAPTERS = {type(a).__name__: a for a in registry.ALL}


@lru_cache(maxsize=1)
def captured_batches() -> tuple[Batch, ...]:
    """Every captured request as rows (no facts: the adapters are called by the test)."""
    out = []
    for scenario in scenarios():
        for req in requests_of(scenario):
            encoding = Encoding.JSON if "json" in req.content_type else Encoding.PROTOBUF
            signal = Signal(req.signal)
            out.append(batch_of(signal, decode(signal, req.body, encoding), req.transport, 0, ViewPolicy()))
    return tuple(out)


def _read(adapter: Adapter, batch: Batch) -> list[tuple[Origin, Fact]]:
    resources = {r.key: r for r in batch.resources}
    scopes = {s.key: s for s in batch.scopes}
    read = {Signal.LOGS: adapter.log, Signal.METRICS: adapter.point, Signal.TRACES: adapter.span}[batch.signal]
    out = []
    for row in batch.rows:
        resource = resources[row.resource_key]
        origin = Origin(row.resource_key, resource.service_name, json.loads(resource.attributes),
                        scopes[row.scope_key].name, adapter.agent_for(resource.service_name))  # fmt: skip
        out.extend((origin, fact) for fact in read(origin, row, json.loads(row.attributes)))
    return out


def _check(origin: Origin, fact: Fact) -> list[str]:
    problems = []
    if not isinstance(fact.kind, Kind):
        problems.append(f"kind {fact.kind!r}")
    if fact.agent != origin.agent:
        problems.append(f"agent {fact.agent!r} is not the origin's {origin.agent!r}")
    if not isinstance(fact.key, bytes) or not fact.key:
        problems.append("empty key")
    for name in MEASURES:
        value = getattr(fact, name)
        if value is None:
            continue
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not numeric or not math.isfinite(value) or value < 0:
            problems.append(f"{name}={value!r}")
        elif name != "cost_usd" and not isinstance(value, int):
            problems.append(f"{name}={value!r} is not a whole number")
    return problems


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_every_captured_record_gives_well_formed_facts(name: str) -> None:
    adapter = ADAPTERS[name]
    problems = [
        f"{batch.signal.value}: {problem}"
        for batch in captured_batches()
        for origin, fact in _read(adapter, batch)
        for problem in _check(origin, fact)
    ]
    assert problems == []


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_an_adapter_names_itself_and_answers_ownership_with_booleans(name: str) -> None:
    adapter = ADAPTERS[name]
    agent = adapter.agent_for("some-service")
    assert isinstance(agent, str) and agent and agent.isprintable()
    for probe in ("", "x", "claude_code.token.usage", "gen_ai.client.token.usage"):
        assert isinstance(adapter.owns_name(probe), bool)
        assert isinstance(adapter.owns_scope(probe), bool)
        assert isinstance(adapter.owns_service(probe or None), bool)


def test_every_named_agent_is_found_by_its_scope_and_by_its_service() -> None:
    # The scopes and service names real agents sent (tests/fixtures/AGENT-TELEMETRY.md).
    cases = {
        ("claude-code", "com.anthropic.claude_code.events"): "claude-code",
        ("codex_exec", "codex_otel::metrics::client"): "codex",
        ("gemini-cli", "gemini-cli"): "gemini-cli",
        ("qwen-code", "qwen-code"): "qwen-code",
        ("github-copilot", "github.copilot"): "copilot-cli",
        ("opencode", "opencode"): "opencode",
    }
    for (service, scope), agent in cases.items():
        by_scope = registry.adapter_for("my-shell-wide-name", scope)
        by_service = registry.adapter_for(service, "some.unknown.scope")
        assert by_scope is not None and by_scope.agent_for(service) == agent, scope
        assert by_service is not None and by_service.agent_for(service) == agent, service
    # Anything else is the generic GenAI adapter's, under its own service name.
    assert registry.adapter_for("goose", "goose") is None
    assert registry.adapter_for_name("gen_ai.client.token.usage") is registry.GENERIC
    assert registry.GENERIC.agent_for("goose") == "goose"


def test_a_record_named_like_an_agent_goes_to_that_agent_when_nothing_else_says() -> None:
    assert registry.adapter_for_name("claude_code.token.usage").agent_for(None) == "claude-code"
    assert registry.adapter_for_name("gemini_cli.api_response").agent_for(None) == "gemini-cli"


def test_adapters_never_raise_on_odd_values() -> None:
    # Every attribute of every captured record replaced by an odd value of another type.
    odd_values: list[Any] = [None, "", "nan", -1, 2**70, 1.5, float("inf"), [], {"a": 1}, True, "true"]
    problems = []
    for batch in captured_batches()[:20]:
        for row in batch.rows[:40]:
            attrs = json.loads(row.attributes)
            for i, odd in enumerate(odd_values):
                mangled = {k: odd_values[(i + j) % len(odd_values)] for j, k in enumerate(attrs)}
                resource = batch.resources[0]
                for adapter in registry.ALL:
                    origin = Origin(row.resource_key, resource.service_name, {}, "", adapter.agent_for(None))
                    read = {Signal.LOGS: adapter.log, Signal.METRICS: adapter.point, Signal.TRACES: adapter.span}
                    try:
                        facts = read[batch.signal](origin, row, mangled)
                    except Exception as exc:  # noqa: BLE001 - collected, reported below
                        problems.append(f"{type(adapter).__name__}: {type(exc).__name__}: {exc}")
                        continue
                    problems += [f"{type(adapter).__name__}: {p}" for f in facts for p in _check(origin, f)]
    assert sorted(set(problems))[:40] == []
