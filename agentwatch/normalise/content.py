"""Which attributes carry content (prompts, responses, code, command lines).

Agents send content even when their own prompt logging is off (Codex
`tool_result.output`, Gemini's `process.command_args` holding the `-p` prompt),
so the default at ingest is to drop every such value and keep its length.
Keeping it is an explicit opt-in (`--keep-content`).

The keys are the OpenTelemetry GenAI conventions' plus every adapter's own
(`Adapter.content_keys`): an agent's names live in its adapter. They are elided
on every record, whichever agent sent it: a key that is content for one agent is
never worth keeping for another.
"""

from __future__ import annotations

import re

from agentwatch.normalise.adapters import registry

# OpenTelemetry GenAI semantic conventions.
GENAI_KEYS: frozenset[str] = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.prompt",
        "gen_ai.completion",
    }
)

CONTENT_KEYS: frozenset[str] = GENAI_KEYS.union(*(adapter.content_keys for adapter in registry.ALL))

# Older GenAI conventions index content: gen_ai.prompt.0.content, gen_ai.completion.1.content, ...
_INDEXED = re.compile(r"^gen_ai\.(prompt|completion)\.\d+\.")

# Log events whose body is the message content (pre-1.30 GenAI event conventions).
CONTENT_EVENTS: frozenset[str] = frozenset(
    {
        "gen_ai.user.message",
        "gen_ai.system.message",
        "gen_ai.assistant.message",
        "gen_ai.tool.message",
        "gen_ai.choice",
    }
)


def is_content_key(key: str) -> bool:
    return key in CONTENT_KEYS or _INDEXED.match(key) is not None
