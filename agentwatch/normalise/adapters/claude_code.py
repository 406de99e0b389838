"""Claude Code: events (logs), metrics and, with the enhanced-telemetry beta, spans.

Where things are: the event name is the `event.name` attribute without prefix
(the body is `claude_code.<event>`, LogRecord.eventName is empty); the session is
the `session.id` attribute on every record, never on the resource; numbers in
events are often strings.

Tokens: Claude reports Anthropic's additive figures (input excludes cache reads
and writes), so input_tokens = input + cache_read + cache_creation here.

Precedence, per session and family (measures.FAMILIES): for each family the
best-ranked (lowest `rank`) source in the session that carries it (non-null) wins.
- calls: `api_request`/`api_error` events (0), else the beta `claude_code.llm_request`
  spans (1). The metrics carry no request count.
- input, output, cache_read, cache_write tokens: the events (0), else the spans (1),
  else the `token.usage` metric (2, one point per type).
- reasoning tokens: no source (null).
- cost: the events' `cost_usd` (0), else the spans' (1), else `cost.usage` (2).
- lines, commits, pull_requests: the `lines_of_code`, `commit` and `pull_request`
  metrics (0), the only source.
- tool_calls: `tool_decision`/`tool_result` events (0), else `claude_code.tool` spans
  (1); both are keyed by tool_use_id, so a span merges into its events' fact.
- decisions: `tool_decision` events (0), else the tool spans (1), else the
  `code_edit_tool.decision` metric (2, decisions only).

`session.count` marks a start and is not activity: after `--continue` it carries a
new id that nothing else uses, so that id is never counted as a session.
"""

from __future__ import annotations

import re
from typing import Any

from agentwatch.normalise.adapters.base import (
    NONE,
    Attrs,
    BaseAdapter,
    Facts,
    Origin,
    as_bool,
    as_cost,
    as_float,
    as_int,
    as_str,
    decision_counts,
    key_of,
    labels_of,
    point_fact,
    point_value,
)
from agentwatch.records import Fact, Kind, LogRow, PointRow, Signal, SpanRow

AGENT = "claude-code"
ACCEPT = frozenset({"accept", "accepted", "allow", "approve", "approved"})
REJECT = frozenset({"reject", "rejected", "deny", "denied", "abort", "user_abort"})
_CONTEXT_SUFFIX = re.compile(r"\[[^\]]*\]$")  # "claude-opus-4-8[1m]": the metrics' context-window tag


def model_name(value: object) -> str | None:
    text = as_str(value)
    return _CONTEXT_SUFFIX.sub("", text) if text else None


class ClaudeCode(BaseAdapter):
    agent = AGENT
    services = frozenset({"claude-code", "claude_code"})
    scope_prefixes = ("com.anthropic.claude_code",)
    name_prefixes = ("claude_code.",)
    content_keys = frozenset(
        {
            "prompt",
            "response",
            "user_prompt",
            "tool_input",
            "tool_parameters",
            "full_command",
            "body",  # OTEL_LOG_RAW_API_BODIES: whole API request/response bodies (RELIABILITY V2)
            "request_body",
            "response_body",
        }
    )

    def owns_record(self, signal: Signal, row: Any, attrs: Attrs) -> bool:
        # An event's name may be only in its body (`"claude_code.api_request"`, JSON text).
        if super().owns_record(signal, row, attrs):
            return True
        return signal is Signal.LOGS and (row.body or "").strip('"').startswith(self.name_prefixes)

    # -- events --------------------------------------------------------------
    def log(self, origin: Origin, row: LogRow, attrs: Attrs) -> Facts:
        event = attrs.get("event.name")
        if event == "api_request":
            return [self._request(origin, row.dedup_key, row.time_ns, attrs, rank=0)]
        if event == "api_error":
            return [self._error(origin, row, attrs)]
        if event in ("tool_decision", "tool_result"):
            return [self._tool(origin, row.dedup_key, row.time_ns, attrs, rank=0)]
        return NONE

    def _base(self, origin: Origin, key: bytes, kind: Kind, time_ns: int, attrs: Attrs, rank: int) -> dict:
        return dict(
            key=key,
            kind=kind,
            agent=AGENT,
            resource_key=origin.resource_key,
            time_ns=time_ns,
            session=as_str(attrs.get("session.id")) or "",
            rank=rank,
            labels=labels_of(origin.resource, attrs),
        )

    def _request(self, origin: Origin, key: bytes, time_ns: int, attrs: Attrs, rank: int) -> Fact:
        fresh = as_int(attrs.get("input_tokens"))
        read = as_int(attrs.get("cache_read_tokens"))
        write = as_int(attrs.get("cache_creation_tokens"))
        parts = [n for n in (fresh, read, write) if n is not None]
        return Fact(
            **self._base(origin, key, Kind.REQUEST, time_ns, attrs, rank),
            model=model_name(attrs.get("model") or attrs.get("gen_ai.request.model")),
            duration_ms=as_float(attrs.get("duration_ms")),
            requests=1,
            errors=0 if as_bool(attrs.get("success")) is not False else 1,
            input_tokens=sum(parts) if parts else None,
            output_tokens=as_int(attrs.get("output_tokens")),
            cache_read_tokens=read,
            cache_write_tokens=write,
            cost_usd=as_cost(attrs.get("cost_usd")),
        )

    def _error(self, origin: Origin, row: LogRow, attrs: Attrs) -> Fact:
        return Fact(
            **self._base(origin, row.dedup_key, Kind.REQUEST, row.time_ns, attrs, 0),
            model=model_name(attrs.get("model")),
            duration_ms=as_float(attrs.get("duration_ms")),
            error=as_str(attrs.get("error")) or as_str(str(attrs.get("status_code") or "")) or "error",
            requests=1,
            errors=1,
        )

    def _tool(self, origin: Origin, raw_key: bytes, time_ns: int, attrs: Attrs, rank: int) -> Fact:
        session = as_str(attrs.get("session.id")) or ""
        call_id = as_str(attrs.get("tool_use_id")) or as_str(attrs.get("gen_ai.tool.call.id"))
        key = key_of("tool", AGENT, session, call_id) if call_id else raw_key
        decision = as_str(attrs.get("decision"))
        accepted, rejected = decision_counts(decision, ACCEPT, REJECT)
        return Fact(
            **self._base(origin, key, Kind.TOOL, time_ns, attrs, rank),
            name=as_str(attrs.get("tool_name")),
            decision=decision,
            decision_source=as_str(attrs.get("source")),
            success=as_bool(attrs.get("success")),
            duration_ms=as_float(attrs.get("duration_ms")) if "success" in attrs else None,
            tool_calls=1,
            tool_accepted=accepted,
            tool_rejected=rejected,
        )

    # -- metrics -------------------------------------------------------------
    def point(self, origin: Origin, row: PointRow, attrs: Attrs) -> Facts:
        name = row.name
        if not name.startswith("claude_code."):
            return NONE
        value = point_value(row)
        if value is None:
            return NONE
        common = dict(
            session=as_str(attrs.get("session.id")) or "",
            model=model_name(attrs.get("model")),
            labels=labels_of(origin.resource, attrs),
        )
        if name == "claude_code.token.usage":
            return self._tokens(origin, row, attrs.get("type"), as_int(value), common)
        if name == "claude_code.cost.usage":
            cost = as_cost(value)
            return NONE if cost is None else [point_fact(origin, row, kind=Kind.USAGE, rank=2, cost_usd=cost, **common)]
        if name == "claude_code.lines_of_code.count":
            n = as_int(value)
            if n is None:
                return NONE  # dropped (negative, past the cap): no 0 beside it claims the family
            kind = attrs.get("type")
            if kind == "added":
                return [point_fact(origin, row, kind=Kind.OUTPUT, lines_added=n, lines_removed=0, **common)]
            if kind == "removed":
                return [point_fact(origin, row, kind=Kind.OUTPUT, lines_removed=n, lines_added=0, **common)]
            return NONE
        if name == "claude_code.commit.count":
            return [point_fact(origin, row, kind=Kind.OUTPUT, commits=as_int(value), **common)]
        if name == "claude_code.pull_request.count":
            return [point_fact(origin, row, kind=Kind.OUTPUT, pull_requests=as_int(value), **common)]
        if name == "claude_code.code_edit_tool.decision":
            return self._edit_decision(origin, row, attrs, as_int(value), common)
        return NONE

    def _tokens(self, origin: Origin, row: PointRow, kind: object, n: int | None, common: dict) -> Facts:
        if n is None:
            return NONE
        if kind == "input":
            fields = {"input_tokens": n}
        elif kind == "output":
            fields = {"output_tokens": n}
        elif kind == "cacheRead":  # additive in Claude's figures, a part of input in ours
            fields = {"cache_read_tokens": n, "input_tokens": n}
        elif kind == "cacheCreation":
            fields = {"cache_write_tokens": n, "input_tokens": n}
        else:
            return NONE
        return [point_fact(origin, row, kind=Kind.USAGE, rank=2, **fields, **common)]

    def _edit_decision(self, origin: Origin, row: PointRow, attrs: Attrs, n: int | None, common: dict) -> Facts:
        accepted, rejected = decision_counts(as_str(attrs.get("decision")), ACCEPT, REJECT)
        if n is None or accepted is None:
            return NONE
        return [
            point_fact(
                origin,
                row,
                kind=Kind.DECISION,
                rank=2,
                name=as_str(attrs.get("tool_name")),
                decision=as_str(attrs.get("decision")),
                decision_source=as_str(attrs.get("source")),
                tool_accepted=n if accepted else 0,
                tool_rejected=n if rejected else 0,
                **common,
            )
        ]

    # -- spans (enhanced telemetry beta) -----------------------------------------
    def span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts:
        if row.name == "claude_code.llm_request":
            return [self._request(origin, row.dedup_key, row.start_ns, attrs, rank=1)]
        if row.name == "claude_code.tool":
            return [self._tool(origin, row.dedup_key, row.start_ns, attrs, rank=1)]
        return NONE


ADAPTER = ClaudeCode()
