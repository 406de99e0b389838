"""OpenTelemetry GenAI semantic conventions: any agent or app that speaks them.

Serves every agent without an adapter of its own (goose, custom agents built on the
OpenAI or Anthropic SDKs with the OpenTelemetry GenAI instrumentations, ...), under
the agent's own `service.name`; the Copilot adapter builds on it.

What counts:
- A model call is a span or event whose `gen_ai.operation.name` is chat-like (chat,
  text_completion, generate_content), or that has no operation name but carries
  `gen_ai.request.model` and `gen_ai.usage.*`, and that carries usage, a response id
  or an error. A chat span with none of them (the Copilot SDK sends one per turn
  beside the one with usage) describes nothing countable.
- Records that share a `gen_ai.response.id` in one trace are one call: the Anthropic
  SDK's own `anthropic.messages.create` span under the instrumentation's `chat` span,
  and the `gen_ai.client.inference.operation.details` event of a chat span, merge
  into it. The trace is part of the key because the ids of OpenAI-compatible local
  servers repeat (Ollama's are `chatcmpl-<0..998>`); every record of one call shares
  its trace. A call without a response id is keyed by its own span (an event by the
  span it was emitted in).
- Roll-ups are never added: `invoke_agent` spans (goose sends two per session with
  the same totals, the GenAI utils and Copilot one) and `gen_ai.client.token.usage`
  points recorded for `invoke_agent` (util-genai 1.1b0) or `execute_tool` repeat the
  calls' usage. An `invoke_agent` span only links its trace to its session.
- Tool calls: `execute_tool` spans, once per `gen_ai.tool.call.id`.

Session: `gen_ai.conversation.id`, else a `session.id` attribute. An id found only on
the enclosing `invoke_agent` span (util-genai 1.1b0 puts it nowhere else) reaches the
calls and tools of its trace through a LINK fact. Ids that are not unique across
machines (goose's `YYYYMMDD_N`, a date and a per-install counter) are scoped by the
resource's `host.name`, or by the resource itself when it names no host.

Tokens are already in the GenAI convention: `gen_ai.usage.input_tokens` counts every
prompt token with cache reads and writes inside (OpenAI-style `prompt_tokens`; the
GenAI Anthropic instrumentation reports 6122 = 1234 + 4321 + 567), and
`gen_ai.usage.{cache_read,cache_write}.input_tokens` are parts of it;
`gen_ai.usage.reasoning.output_tokens` is a part of `output_tokens`. So nothing is
added or subtracted here. The deprecated `prompt_tokens`/`completion_tokens` names
are read where the current ones are absent. A family a record lacks stays null (the
openai-v2 2.4b0 chat spans carry no cache attribute: cache reads are —, not 0).

Precedence, per session and family (measures.FAMILIES): for each family the
best-ranked (lowest `rank`) source in the session that carries it (non-null) wins.
- calls: model-call spans and events (0, merged per call), the only source.
- input, output tokens: the model calls (0), else the `gen_ai.client.token.usage`
  metric's chat points (1), which carry no request count and, in practice, no
  session: they land in the resource's no-session row, whose ranks also see the
  spans of that resource, so they count only where no model-call span carried them.
- cache_read, cache_write, reasoning tokens: the model calls (0), the only source.
- cost, lines, commits, pull_requests, decisions: no source (the conventions have none).
- tool_calls: `execute_tool` spans (0), the only source.
"""

from __future__ import annotations

import re
from typing import Any

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
    point_fact,
    point_value,
    service_label,
    span_ms,
)
from agentwatch.records import Fact, Kind, LogRow, PointRow, SpanRow

# gen_ai.operation.name values of one model call. invoke_agent, execute_tool,
# embeddings, create_agent ... are something else.
CALL_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
INVOKE_AGENT = "invoke_agent"
EXECUTE_TOOL = "execute_tool"
TOKEN_USAGE = "gen_ai.client.token.usage"

USAGE_PREFIX = "gen_ai.usage."
INPUT_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")  # the second is deprecated
OUTPUT_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHE_READ = "gen_ai.usage.cache_read.input_tokens"
CACHE_WRITE = "gen_ai.usage.cache_write.input_tokens"
REASONING = "gen_ai.usage.reasoning.output_tokens"

# gen_ai.token.type on token-usage points → our measure ("prompt"/"completion" are the old names).
TOKEN_TYPES = {
    "input": "input_tokens",
    "prompt": "input_tokens",
    "output": "output_tokens",
    "completion": "output_tokens",
}

# A date and a counter (goose's 20261123_1): every machine has one the same day.
LOCAL_SESSION_ID = re.compile(r"^\d{8}_\d+$")


# -- shared readers (the Copilot adapter uses them too) -----------------------------
def operation(attrs: Attrs) -> str | None:
    return as_str(attrs.get("gen_ai.operation.name"))


def has_usage(attrs: Attrs) -> bool:
    return any(key.startswith(USAGE_PREFIX) for key in attrs)


def is_call(attrs: Attrs, failed: bool) -> bool:
    """A model call carrying something countable (see the module docstring)."""
    op = operation(attrs)
    if op is None:
        if "gen_ai.request.model" not in attrs or not has_usage(attrs):
            return False
    elif op not in CALL_OPERATIONS:
        return False
    return failed or has_usage(attrs) or as_str(attrs.get("gen_ai.response.id")) is not None


def model_of(attrs: Attrs) -> str | None:
    return as_str(attrs.get("gen_ai.response.model")) or as_str(attrs.get("gen_ai.request.model"))


def session_of(attrs: Attrs) -> str:
    return as_str(attrs.get("gen_ai.conversation.id")) or as_str(attrs.get("session.id")) or ""


def session_scope(origin: Origin, session: str) -> str:
    """What keeps a non-unique session id apart: its host, else its resource; '' if unique."""
    if not LOCAL_SESSION_ID.match(session):
        return ""
    return as_str(origin.resource.get("host.name")) or origin.resource_key.hex()


def call_key(agent: str, attrs: Attrs, trace_id: bytes, span_id: bytes, fallback: bytes) -> bytes:
    """One key for every record of one model call (see the module docstring)."""
    response_id = as_str(attrs.get("gen_ai.response.id"))
    if response_id:
        return key_of("call", agent, trace_id, response_id)
    if trace_id and span_id:
        return key_of("call", agent, trace_id, span_id)
    return fallback


def span_failed(row: SpanRow, attrs: Attrs) -> bool:
    return row.status_code == STATUS_ERROR or as_str(attrs.get("error.type")) is not None


def span_error(row: SpanRow, attrs: Attrs) -> str | None:
    if not span_failed(row, attrs):
        return None
    return as_str(attrs.get("error.type")) or as_str(row.status_message) or "error"


class GenAI(BaseAdapter):
    agent = "genai"
    # The OpenTelemetry GenAI instrumentations: their records belong here whatever
    # the app's service.name (the agent name still comes from it).
    scope_prefixes: tuple[str, ...] = (
        "opentelemetry.instrumentation.genai",
        "opentelemetry.util.genai",
        "opentelemetry.instrumentation.openai_v2",
        "opentelemetry.instrumentation.google_genai",
        "opentelemetry.instrumentation.vertexai",
    )
    # Rank of the gen_ai.client.token.usage fallback (Copilot has a better metric).
    token_metric_rank = 1

    def agent_for(self, service: str | None) -> str:
        # Any other agent or app is known by its own service.name (goose, opencode, ...).
        return service_label(service)

    # -- hooks a subclass extends -------------------------------------------------------
    def call_extras(self, attrs: Attrs) -> dict[str, Any]:
        """Figures of a model call beyond the conventions' (Copilot's cost)."""
        return {}

    def other_span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts:
        """Spans the conventions do not describe (Copilot's permission spans)."""
        return NONE

    # -- spans ------------------------------------------------------------------------
    def span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts:
        op = operation(attrs)
        if op == INVOKE_AGENT:
            return self._link(origin, row, attrs)
        if op == EXECUTE_TOOL:
            return [self._tool(origin, row, attrs)]
        failed = span_failed(row, attrs)
        if is_call(attrs, failed):
            key = call_key(origin.agent, attrs, row.trace_id, row.span_id, row.dedup_key)
            fact = self._call(origin, key, row.start_ns, row.trace_id, attrs, failed)
            return [fact._replace(duration_ms=span_ms(row), error=span_error(row, attrs))]
        return self.other_span(origin, row, attrs)

    def session_fields(self, origin: Origin, attrs: Attrs) -> dict[str, Any]:
        """session and session_scope, as Fact fields."""
        session = session_of(attrs)
        return dict(session=session, session_scope=session_scope(origin, session))

    def _link(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts:
        """An agent's turn: its usage sums the calls (never added); its id names the trace's session."""
        where = self.session_fields(origin, attrs)
        if not where["session"] or not row.trace_id:
            return NONE
        return [
            Fact(
                key=key_of("link", origin.agent, row.trace_id),
                kind=Kind.LINK,
                agent=origin.agent,
                resource_key=origin.resource_key,
                time_ns=row.start_ns,
                trace_id=row.trace_id,
                **where,
            )
        ]

    def _call(self, origin: Origin, key: bytes, time_ns: int, trace_id: bytes, attrs: Attrs, failed: bool) -> Fact:
        # GenAI convention already (see the module docstring): taken as reported.
        return Fact(
            key=key,
            kind=Kind.REQUEST,
            agent=origin.agent,
            resource_key=origin.resource_key,
            time_ns=time_ns,
            trace_id=trace_id,
            model=model_of(attrs),
            labels=origin.labels,
            requests=1,
            errors=1 if failed else 0,
            input_tokens=first_int(attrs, *INPUT_KEYS),
            output_tokens=first_int(attrs, *OUTPUT_KEYS),
            cache_read_tokens=as_int(attrs.get(CACHE_READ)),
            cache_write_tokens=as_int(attrs.get(CACHE_WRITE)),
            reasoning_tokens=as_int(attrs.get(REASONING)),
            **self.session_fields(origin, attrs),
            **self.call_extras(attrs),
        )

    def _tool(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Fact:
        where = self.session_fields(origin, attrs)
        call_id = as_str(attrs.get("gen_ai.tool.call.id"))
        key = key_of("tool", origin.agent, where["session"], call_id) if call_id else row.dedup_key
        return Fact(
            key=key,
            kind=Kind.TOOL,
            agent=origin.agent,
            resource_key=origin.resource_key,
            time_ns=row.start_ns,
            trace_id=row.trace_id,
            labels=origin.labels,
            name=as_str(attrs.get("gen_ai.tool.name")),
            success=not span_failed(row, attrs),
            duration_ms=span_ms(row),
            error=span_error(row, attrs),
            tool_calls=1,
            **where,
        )

    # -- events -----------------------------------------------------------------------
    def log(self, origin: Origin, row: LogRow, attrs: Attrs) -> Facts:
        """A chat event (`gen_ai.client.inference.operation.details`) merges into its span's call."""
        failed = as_str(attrs.get("error.type")) is not None
        if not is_call(attrs, failed):
            return NONE
        key = call_key(origin.agent, attrs, row.trace_id, row.span_id, row.dedup_key)
        fact = self._call(origin, key, row.time_ns, row.trace_id, attrs, failed)
        return [fact._replace(error=as_str(attrs.get("error.type")))]

    # -- metrics ----------------------------------------------------------------------
    def point(self, origin: Origin, row: PointRow, attrs: Attrs) -> Facts:
        if row.name != TOKEN_USAGE:
            return NONE
        measure = TOKEN_TYPES.get(as_str(attrs.get("gen_ai.token.type")) or "")
        return self.usage_point(origin, row, attrs, measure, self.token_metric_rank)

    def usage_point(self, origin: Origin, row: PointRow, attrs: Attrs, measure: str | None, rank: int) -> Facts:
        """A token-usage point of model calls as a fallback USAGE fact; roll-up points are skipped."""
        if measure is None or operation(attrs) not in CALL_OPERATIONS:
            return NONE
        n = as_int(point_value(row))
        if n is None:
            return NONE
        fields = {measure: n, **self.session_fields(origin, attrs)}
        return [point_fact(origin, row, kind=Kind.USAGE, rank=rank, model=model_of(attrs), **fields)]


ADAPTER = GenAI()
