"""OpenCode: traces only. Model calls from the Vercel AI SDK's spans, tool calls from its own.

What arrives (AGENT-TELEMETRY.md §7): OTLP/JSON logs and traces, no metrics. The
logs are application log lines (`["creating instance", "{…}"]`) with nothing
usage-related. The traces are ~1000 spans per run, almost all internal Effect
functions (`sql.execute`, `Config.get`, `Plugin.trigger`, …); `span` rejects them
on their name before reading anything, because that is nearly every record.

Spans that count:
- `ai.streamText.doStream` (and the AI SDK's other provider-call spans, `*.doGenerate`
  / `*.doStream`): one model call each. Only sent with `"experimental": {"openTelemetry":
  true}`. Their parent `ai.streamText` repeats the usage (for a multi-step run it is
  the sum of its steps): a roll-up, never counted.
- `Tool.execute` (always sent: tool.name, session.id, tool.call_id) and, with the flag,
  `ai.toolCall` (ai.toolCall.name, ai.toolCall.id): the same tool call seen twice,
  merged under key_of("tool", "opencode", session, call id).

Session: the `session.id` span attribute (`ses_…`), else the AI SDK's
`ai.telemetry.metadata.sessionId` (the same id). The resource's `opencode.run` /
`service.instance.id` names the process, not the session, and is never used.

Tokens (AI SDK v6, LanguageModelV3Usage): `ai.usage.inputTokens` is the prompt total,
cache reads and writes included (3210 = noCache 1162 + cacheRead 2048), which is the
GenAI convention already; `ai.usage.outputTokens` is the completion total and
`ai.usage.reasoningTokens` (= outputTokenDetails.reasoningTokens) a part of it
(text = total - reasoning in the SDK's usage conversion), so neither is added on top
of the other. A reported 0 (the SDK writes reasoning 0 when the provider sent no
detail) stays 0; a detail the span lacks (cacheWriteTokens here) stays null.

Model calls are keyed by their own span (trace id + span id), not by
`gen_ai.response.id`: only one record describes each call, and the ids of
OpenAI-compatible local servers collide (Ollama's are `chatcmpl-<0..998>`), which
would merge distinct calls.

Precedence, per session and family (measures.FAMILIES): for each family the
best-ranked (lowest `rank`) source in the session that carries it (non-null) wins.
There is one source per family, so everything is rank 0.
- calls, input, output, cache_read, cache_write, reasoning tokens: the
  provider-call spans only. Without the flag there are none, so requests and tokens
  stay null (—), never 0.
- cost: no source in OTLP (always null).
- lines, commits, pull_requests, decisions: no source (null).
- tool_calls: `Tool.execute` and `ai.toolCall`, merged per tool call id (an
  `ai.toolCall` without an id is skipped: its `Tool.execute` is always sent).

OpenCode drops the spans still queued at exit (its batch exporter is not flushed), so
a trace is never assumed complete: what arrived is what is counted.
"""

from __future__ import annotations

from agentwatch.normalise.adapters.base import (
    NONE,
    STATUS_ERROR,
    Attrs,
    BaseAdapter,
    Facts,
    Origin,
    as_int,
    as_str,
    first_int,
    key_of,
    labels_of,
    span_ms,
    span_success,
)
from agentwatch.records import Fact, Kind, SpanRow

AGENT = "opencode"

# The AI SDK's provider-call spans: one model call each. Their parents (`ai.streamText`,
# `ai.generateText`, …) sum them and are deliberately absent.
MODEL_CALLS = frozenset(
    {
        "ai.streamText.doStream",
        "ai.generateText.doGenerate",
        "ai.streamObject.doStream",
        "ai.generateObject.doGenerate",
    }
)
TOOL_EXECUTE = "Tool.execute"
AI_TOOL_CALL = "ai.toolCall"
# Checked first on every span: a set lookup is all that ~99.5% of OpenCode's spans cost.
WANTED = MODEL_CALLS | {TOOL_EXECUTE, AI_TOOL_CALL}

# OpenCode sets deployment.environment.name to its release channel ("latest"), not an
# environment; keeping it would label every session with a wrong environment.
_NOT_LABELS = frozenset({"deployment.environment.name"})


def session_of(attrs: Attrs) -> str:
    return as_str(attrs.get("session.id")) or as_str(attrs.get("ai.telemetry.metadata.sessionId")) or ""


def model_of(attrs: Attrs) -> str | None:
    return (
        as_str(attrs.get("gen_ai.response.model"))
        or as_str(attrs.get("ai.response.model"))
        or as_str(attrs.get("gen_ai.request.model"))
        or as_str(attrs.get("ai.model.id"))
    )


def input_tokens(attrs: Attrs, cache_read: int | None, cache_write: int | None) -> int | None:
    """The prompt total, cache included; from its parts when the total is missing."""
    total = first_int(attrs, "ai.usage.inputTokens", "gen_ai.usage.input_tokens")
    if total is not None:
        return total
    fresh = as_int(attrs.get("ai.usage.inputTokenDetails.noCacheTokens"))
    if fresh is None:
        return None
    return fresh + (cache_read or 0) + (cache_write or 0)


def labels(origin: Origin) -> str | None:
    return labels_of({k: v for k, v in origin.resource.items() if k not in _NOT_LABELS})


class OpenCode(BaseAdapter):
    agent = AGENT
    services = frozenset({"opencode"})
    scope_prefixes = ("opencode",)
    content_keys = frozenset(  # the Vercel AI SDK's
        {
            "ai.prompt",
            "ai.prompt.messages",
            "ai.prompt.tools",
            "ai.response.text",
            "ai.response.object",
            "ai.response.toolCalls",
            "ai.response.reasoning",
            "ai.toolCall.args",
            "ai.toolCall.result",
        }
    )

    # Logs are application log lines and there are no metrics: the defaults (no facts) hold.

    def span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts:
        name = row.name
        if name not in WANTED:
            return NONE
        if name in MODEL_CALLS:
            return [self._call(origin, row, attrs)]
        if name == TOOL_EXECUTE:
            return self._tool(origin, row, attrs, as_str(attrs.get("tool.call_id")), as_str(attrs.get("tool.name")))
        call_id = as_str(attrs.get("ai.toolCall.id"))
        if call_id is None:
            return NONE
        return self._tool(origin, row, attrs, call_id, as_str(attrs.get("ai.toolCall.name")))

    def _call(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Fact:
        cache_read = first_int(attrs, "ai.usage.inputTokenDetails.cacheReadTokens", "ai.usage.cachedInputTokens")
        cache_write = as_int(attrs.get("ai.usage.inputTokenDetails.cacheWriteTokens"))
        failed = row.status_code == STATUS_ERROR
        return Fact(
            key=key_of("call", AGENT, row.trace_id, row.span_id),
            kind=Kind.REQUEST,
            agent=AGENT,
            resource_key=origin.resource_key,
            time_ns=row.start_ns,
            session=session_of(attrs),
            trace_id=row.trace_id,
            model=model_of(attrs),
            labels=labels(origin),
            success=not failed,
            duration_ms=span_ms(row),
            error=(row.status_message or "error") if failed else None,
            requests=1,
            errors=1 if failed else 0,
            input_tokens=input_tokens(attrs, cache_read, cache_write),
            # outputTokens is the completion total; reasoning is a part of it (see above).
            output_tokens=first_int(attrs, "ai.usage.outputTokens", "gen_ai.usage.output_tokens"),
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
            reasoning_tokens=first_int(
                attrs, "ai.usage.outputTokenDetails.reasoningTokens", "ai.usage.reasoningTokens"
            ),
        )

    def _tool(self, origin: Origin, row: SpanRow, attrs: Attrs, call_id: str | None, name: str | None) -> Facts:
        session = session_of(attrs)
        # Tool.execute and ai.toolCall of one call share the provider's call id: one key.
        key = key_of("tool", AGENT, session, call_id) if call_id else row.dedup_key
        return [
            Fact(
                key=key,
                kind=Kind.TOOL,
                agent=AGENT,
                resource_key=origin.resource_key,
                time_ns=row.start_ns,
                session=session,
                trace_id=row.trace_id,
                labels=labels(origin),
                name=name,
                success=span_success(row),
                duration_ms=span_ms(row),
                tool_calls=1,
            )
        ]


ADAPTER = OpenCode()
