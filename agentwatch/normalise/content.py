"""Which attributes carry content (prompts, responses, code, command lines).

Agents send content even when their own prompt logging is off (Codex
`tool_result.output`, Gemini's `process.command_args` holding the `-p` prompt),
so the default at ingest is to drop every such value and keep its length.
Keeping it is an explicit opt-in (`--keep-content`).
"""

from __future__ import annotations

import re

CONTENT_KEYS: frozenset[str] = frozenset(
    {
        # Claude Code events and spans
        "prompt",
        "response",
        "user_prompt",
        "tool_input",
        "tool_parameters",
        "full_command",
        "body",  # OTEL_LOG_RAW_API_BODIES: whole API request/response bodies (RELIABILITY V2)
        "request_body",
        "response_body",
        # Codex
        "arguments",
        "output",
        # Gemini CLI, Qwen Code
        "function_args",
        "request_text",
        "response_text",
        "reasoning",
        "routing.reasoning",
        # OpenTelemetry GenAI semantic conventions
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.prompt",
        "gen_ai.completion",
        # Vercel AI SDK (OpenCode)
        "ai.prompt",
        "ai.prompt.messages",
        "ai.prompt.tools",
        "ai.response.text",
        "ai.response.object",
        "ai.response.toolCalls",
        "ai.response.reasoning",
        "ai.toolCall.args",
        "ai.toolCall.result",
        # Process command lines (Gemini's holds the prompt)
        "process.command_args",
        "process.command_line",
    }
)

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
