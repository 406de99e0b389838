"""Which adapter reads a record: by scope, then service.name, then the record's own name.

The instrumentation scope comes first because service.name is a setting: a user
who exports OTEL_SERVICE_NAME globally gives every agent the same one, while the
scope (`com.anthropic.claude_code`, `github.copilot`, ...) is the agent's code.
Records whose scope and service say nothing go to the agent whose metric or event
name prefix they carry (`claude_code.`, `gemini_cli.`), and otherwise to the
generic OpenTelemetry GenAI adapter.

The adapter chosen so also names the agent (`Adapter.agent_for`): this is the one
agent label, for raw rows (what `agentwatch status` counts) and facts (what
`summary` and `sessions` show) alike. A Claude Code record under a global
`OTEL_SERVICE_NAME=my-app` is `claude-code` everywhere, because its scope says so.
"""

from __future__ import annotations

from functools import lru_cache

from agentwatch.normalise.adapters import claude_code, codex, copilot_cli, gemini_cli, genai, opencode, qwen_code
from typing import Any

from agentwatch.normalise.adapters.base import Adapter, Attrs
from agentwatch.records import Signal

# Order matters only for the generic fallback, which must come last.
NAMED: tuple[Adapter, ...] = (
    claude_code.ADAPTER,
    codex.ADAPTER,
    gemini_cli.ADAPTER,
    qwen_code.ADAPTER,
    copilot_cli.ADAPTER,
    opencode.ADAPTER,
)
GENERIC: Adapter = genai.ADAPTER
ALL: tuple[Adapter, ...] = (*NAMED, GENERIC)


@lru_cache(maxsize=1024)
def adapter_for(service: str | None, scope: str) -> Adapter | None:
    """The adapter for every record of this resource and scope, or None: decide per record."""
    for adapter in NAMED:
        if adapter.owns_scope(scope):
            return adapter
    if GENERIC.owns_scope(scope):  # a GenAI instrumentation inside some app, whatever its name
        return GENERIC
    for adapter in NAMED:
        if adapter.owns_service(service):
            return adapter
    return None


def adapter_for_name(name: str) -> Adapter:
    """For a record whose scope and service named no agent: by its name's prefix."""
    for adapter in NAMED:
        if adapter.owns_name(name):
            return adapter
    return GENERIC


def adapter_for_record(signal: Signal, row: Any, attrs: Attrs) -> Adapter:
    """For a record whose scope and service named no agent: the agent the record says is its own."""
    for adapter in NAMED:
        if adapter.owns_record(signal, row, attrs):
            return adapter
    return GENERIC


def adapter_of(service: str | None, scope: str, name: str) -> Adapter:
    """The adapter for one record: its scope, then its resource's service.name, then its own name."""
    return adapter_for(service, scope) or adapter_for_name(name)


def agent_label(service: str | None, scope: str = "", name: str = "") -> str:
    """The agent a record is counted under, everywhere (see the module docstring).

    Without a scope or record name it is the label of the service.name alone: the
    fallback for a resource whose records are labelled one by one.
    """
    return adapter_of(service, scope, name).agent_for(service)
