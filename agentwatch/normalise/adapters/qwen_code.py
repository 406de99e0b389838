"""Qwen Code: a fork of Gemini CLI, read by the same code (gemini_cli.GeminiFamily).

What differs from Gemini CLI (tests/fixtures/AGENT-TELEMETRY.md §5, qwen-code 0.15.10):
- Names: scope and service `qwen-code`; events and metrics are prefixed `qwen-code.`
  (`qwen-code.api_response`, `qwen-code.token.usage`), with a hyphen, not `qwen_code.`.
- The session is `session.id` on the resource and on every record, as in Gemini.
- Events add `response_id` (the provider's, e.g. `chatcmpl-…`). It is not used as
  the call's key: nothing else reports the same call (no spans were seen), and
  OpenAI-compatible servers do not promise unique ids (Ollama's repeat), so two
  calls could be merged into one. The event record itself is the key.
- Tokens: Qwen talks to OpenAI-compatible, Anthropic and Gemini APIs and converts
  each usage block into Gemini's shape. `input_token_count` is the whole prompt,
  cache included, on every path (cached_content_token_count is a part of it), so it
  is our input as it stands. Thoughts differ by API: from Chat Completions,
  candidates = completion_tokens, which already include the reasoning tokens that
  become thoughts (total = input + output); from the Gemini API they come on top, as
  in Gemini CLI (total = input + output + thoughts). The event's own total says
  which: thoughts are added to output only when the total has room for them.
  The `thought` metric carries no total; it is read in the Chat Completions
  convention, Qwen's default (a part of output).
- Lines: Qwen records no lines metric; the diff stats are in the `tool_call` event's
  `metadata`, a key-value list (`model_added_lines`, `model_removed_lines`, …), so
  they rank first. The content policy does not touch them (only keys such as
  `function_args` are elided), so they arrive whole.
- A failed call is counted once in `api.request.count`, with `error_type`, which
  the shared reading already handles.

Precedence, per session and family (measures.FAMILIES): for each family the
best-ranked (lowest `rank`) source in the session that carries it (non-null) wins.
- calls: `api_response`/`api_error` events (0), else `qwen-code.api.request.count` (1).
- input, output, cache_read, reasoning tokens: the events (0), else
  `qwen-code.token.usage` (1).
- cache_write tokens, cost, commits, pull_requests: no source (null).
- lines: the `tool_call` metadata (0), else a `qwen-code.lines.changed` metric (1)
  should a later version send one as Gemini CLI does.
- tool_calls: `tool_call` events (0), else `qwen-code.tool.call.count` (1).
- decisions: `tool_call` events with a decision (0), else `qwen-code.tool.call.count` (1).
`session.count` is a start marker, not activity.
"""

from __future__ import annotations

from typing import Any

from agentwatch.normalise.adapters.base import NONE, Attrs, Facts, Origin, as_int, as_str
from agentwatch.normalise.adapters.gemini_cli import GeminiFamily
from agentwatch.records import SpanRow

# Auth types whose usage is Gemini's own (thoughts on top of output): used only when an
# event carries no total to tell.
GEMINI_AUTH = frozenset({"gemini", "vertex-ai"})


def thoughts_on_top(attrs: Attrs) -> bool:
    """True when the event's thoughts are outside its output count (Gemini's convention)."""
    thoughts = as_int(attrs.get("thoughts_token_count")) or 0
    if thoughts <= 0:
        return False
    total = as_int(attrs.get("total_token_count"))
    if total is None or total <= 0:
        return as_str(attrs.get("auth_type")) in GEMINI_AUTH
    prompt = as_int(attrs.get("input_token_count")) or 0
    output = as_int(attrs.get("output_token_count")) or 0
    return total >= prompt + output + thoughts


def _known(value: Any) -> int | None:
    n = as_int(value)
    return n if n is not None and n >= 0 else None


class QwenCode(GeminiFamily):
    agent = "qwen-code"
    services = frozenset({"qwen-code"})
    scope_prefixes = ("qwen-code",)
    name_prefixes = ("qwen-code.",)
    prefix = "qwen-code."
    lines_metric_rank = 1
    lines_metadata_rank = 0

    def event_tokens(self, attrs: Attrs) -> dict[str, Any]:
        output = _known(attrs.get("output_token_count"))
        thoughts = _known(attrs.get("thoughts_token_count"))
        if output is not None and thoughts and thoughts_on_top(attrs):
            output += thoughts
        return {
            "input_tokens": _known(attrs.get("input_token_count")),  # cache already inside
            "output_tokens": output,
            "cache_read_tokens": _known(attrs.get("cached_content_token_count")),
            "reasoning_tokens": thoughts,
        }

    def metric_tokens(self, kind: Any, n: int) -> dict[str, int] | None:
        if kind == "thought":  # Chat Completions: reasoning is a part of completion (output)
            return {"reasoning_tokens": n}
        if kind == "tool":  # not a Qwen type; nothing to say what it would mean
            return None
        return super().metric_tokens(kind, n)

    def span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts:
        return NONE  # 0.15.10 sent no traces; Gemini's span names are not Qwen's promise


ADAPTER = QwenCode()
