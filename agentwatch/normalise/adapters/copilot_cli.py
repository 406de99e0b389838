"""GitHub Copilot CLI and the Copilot SDK's runtime: GenAI semantic conventions plus Copilot's own.

Both report `service.name=github-copilot` and scope `github.copilot` (the SDK's runtime
with `service.version=0.0.0`), so both are the `copilot-cli` agent. Metrics and traces
only, no logs. The model calls, tool calls, sessions and roll-ups are read as in the
generic GenAI adapter (genai.py), which this one extends:
- `chat <model>` spans are the model calls (gen_ai.usage.*, `gen_ai.response.id`); the
  Copilot SDK also sends one chat span per turn without usage or response id, which
  describes nothing countable and is skipped; `invoke_agent` (usage totals) only links
  its trace to its session;
- `execute_tool` spans are the tool calls, once per `gen_ai.tool.call.id` (the SDK sends
  every tool span twice);
- the session is `gen_ai.conversation.id`, on every span and on no metric point.
Copilot's extras:
- `github.copilot.cost` on a chat span is the call's reported cost. With BYOK it is
  0.0, and a reported 0 stays 0.0, never null.
- `permission` spans with `github.copilot.permission.result` are tool decisions
  (approved → accepted, denied → rejected). They name no tool call id; their parent is
  the tool's span, so a decision is keyed by trace and parent span and the SDK's
  duplicate of it merges (its duplicates so far carry no result at all).
- `github.copilot.code.lines_added` (cumulative, no session) is the lines figure; no
  removed count is sent, so lines removed is 0 once lines are carried.

Tokens: Copilot's figures are OpenAI-style, `input_tokens` with cache reads inside (3210
of which cache_read 2048 per call): already the GenAI convention, taken as reported.
The Copilot SDK 1.0.14 reports every usage value twice (6420 input per call instead of
3210, lines 12 for a 6-line file); what it reported is shown, never halved.

Precedence, per session and family (measures.FAMILIES): for each family the
best-ranked (lowest `rank`) source in the session that carries it (non-null) wins.
The metrics carry no session: they land in the resource's no-session row, whose
ranks also see the spans of the same resource, so a metric counts only for a family
no chat span of that resource carries.
- calls: chat spans (0), the only source (the metrics carry no request count).
- input, output tokens: chat spans (0), else the CLI's
  `gen_ai.client.inference.usage.*` sums (1), else `gen_ai.client.token.usage` (2,
  what the SDK's runtime sends instead).
- cache_read, cache_write, reasoning tokens: chat spans (0) where they carry them,
  else `gen_ai.client.inference.usage.*` (1). The CLI's chat spans carry no cache
  write or reasoning figure, so those two come from the metrics (0 in the capture).
- cost: the chat spans' `github.copilot.cost` (0), the only source.
- lines: `github.copilot.code.lines_added` (0), the only source.
- commits, pull_requests: no source (null).
- tool_calls: `execute_tool` spans (0), else `github.copilot.tool.call.count` (1).
- decisions: `permission` spans (0), the only source.
"""

from __future__ import annotations

from typing import Any

from agentwatch.normalise.adapters.base import (
    NONE,
    Attrs,
    Facts,
    Origin,
    as_cost,
    as_float,
    as_int,
    as_str,
    key_of,
    point_fact,
    point_value,
)
from agentwatch.normalise.adapters.genai import GenAI
from agentwatch.records import Fact, Kind, PointRow, SpanRow

AGENT = "copilot-cli"
PERMISSION_RESULT = "github.copilot.permission.result"
LINES_ADDED = "github.copilot.code.lines_added"
LINES_REMOVED = "github.copilot.code.lines_removed"  # not seen yet; read if it appears
TOOL_CALL_COUNT = "github.copilot.tool.call.count"

# The CLI's per-type token sums → our measures. Copilot's input includes cache reads,
# as ours does, so each maps to one measure and nothing is added on top.
INFERENCE_USAGE = {
    "gen_ai.client.inference.usage.input_tokens": "input_tokens",
    "gen_ai.client.inference.usage.output_tokens": "output_tokens",
    "gen_ai.client.inference.usage.cache_read.input_tokens": "cache_read_tokens",
    "gen_ai.client.inference.usage.cache_write.input_tokens": "cache_write_tokens",
    "gen_ai.client.inference.usage.reasoning.output_tokens": "reasoning_tokens",
}


def decision_of(result: str | None) -> tuple[int | None, int | None]:
    """(tool_accepted, tool_rejected) for a permission result ("approved", "denied", "denied-by-rules", ...)."""
    lowered = (result or "").lower()
    if lowered.startswith(("approved", "allow", "accept")):
        return 1, 0
    if lowered.startswith(("denied", "deny", "reject")):
        return 0, 1
    return None, None


class CopilotCli(GenAI):
    agent = AGENT
    services = frozenset({"github-copilot", "copilot-cli"})
    scope_prefixes = ("github.copilot",)
    name_prefixes = ("github.copilot.",)
    token_metric_rank = 2  # behind gen_ai.client.inference.usage.*, should both arrive

    def agent_for(self, service: str | None) -> str:
        return AGENT  # the SDK's runtime says github-copilot too; a global OTEL_SERVICE_NAME changes nothing

    def call_extras(self, attrs: Attrs) -> dict[str, Any]:
        return {"cost_usd": as_cost(attrs.get("github.copilot.cost"))}

    # -- spans ------------------------------------------------------------------------
    def other_span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts:
        if PERMISSION_RESULT in attrs:
            return self._decision(origin, row, attrs)
        return NONE

    def _decision(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts:
        result = as_str(attrs.get(PERMISSION_RESULT))
        accepted, rejected = decision_of(result)
        if accepted is None:
            return NONE
        where = self.session_fields(origin, attrs)
        tool_span = row.parent_span_id or row.span_id
        return [
            Fact(
                key=key_of("decision", AGENT, where["session"], row.trace_id, tool_span),
                kind=Kind.DECISION,
                agent=AGENT,
                resource_key=origin.resource_key,
                time_ns=row.start_ns,
                trace_id=row.trace_id,
                labels=origin.labels,
                name=as_str(attrs.get("github.copilot.permission.kind")),
                decision=result,
                tool_accepted=accepted,
                tool_rejected=rejected,
                **where,
            )
        ]

    # -- metrics ----------------------------------------------------------------------
    def point(self, origin: Origin, row: PointRow, attrs: Attrs) -> Facts:
        name = row.name
        if name in INFERENCE_USAGE:
            return self.usage_point(origin, row, attrs, INFERENCE_USAGE[name], rank=1)
        if name == LINES_ADDED:
            return self._lines(origin, row, attrs, "lines_added", "lines_removed")
        if name == LINES_REMOVED:
            return self._lines(origin, row, attrs, "lines_removed", "lines_added")
        if name == TOOL_CALL_COUNT:
            return self._tool_count(origin, row, attrs)
        return super().point(origin, row, attrs)

    def _lines(self, origin: Origin, row: PointRow, attrs: Attrs, measure: str, sibling: str) -> Facts:
        n = as_int(point_value(row))
        if n is None:
            return NONE
        # The sibling is only marked carried: a cumulative point scales the measure equal to its value.
        fields = {measure: n, sibling: 0, **self.session_fields(origin, attrs)}
        model = as_str(attrs.get("gen_ai.request.model"))
        return [point_fact(origin, row, kind=Kind.OUTPUT, model=model, **fields)]

    def _tool_count(self, origin: Origin, row: PointRow, attrs: Attrs) -> Facts:
        n = as_int(point_value(row))
        if n is None:
            return NONE
        name = as_str(attrs.get("gen_ai.tool.name"))
        fields = {"tool_calls": n, **self.session_fields(origin, attrs)}
        return [point_fact(origin, row, kind=Kind.TOOL, rank=1, name=name, **fields)]


ADAPTER = CopilotCli()
