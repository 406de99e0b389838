"""Codex CLI: events (logs), spans and metrics, each from its own exporter.

Where things are (AGENT-TELEMETRY.md §2): the event name is the `event.name`
attribute (LogRecord.eventName is a source callsite such as
"event otel/src/events/session_telemetry.rs:803"); the session is the
`conversation.id` attribute of events and of some spans, and metrics carry none.
Log records have timeUnixNano = 0: LogRow.time_ns is already their observed time.
Numbers arrive as strings ("5555") or ints, booleans as "true" or bools.

Model calls: `codex.sse_event` with event.kind = response.completed is logged twice
per response. The first record (the raw SSE event) carries no usage and is not a
call; the second (the client's completion) carries input/output/cached/
cache_write/reasoning token counts and is the call. When a stream fails instead
(a response.failed event, a dropped stream, an idle timeout), the client logs that
second record with `error.message` and no usage, once per stream: that is the
failed call (errors=1). The `codex.sse_event` with event.kind = response.failed
itself is not counted, because the failure record always follows it and counting
both would make one failed call two. A `codex.api_request` that failed (success
false, status >= 400, or an error message, which is all a transport error sends)
is a call that never streamed, so it has no failure record and counts as a failed
call itself; a successful one is counted by its completion.

Tokens: Codex passes on the OpenAI Responses usage, where cached tokens
(input_tokens_details.cached_tokens) and cache writes (cache_write_tokens) are
parts of input_tokens and reasoning tokens a part of output_tokens. That is the
GenAI convention already, so the counts are taken as they are, never added up.
Codex reports no cost and no lines of code: both stay null.

Tools: `codex.tool_decision` (decision, source) and `codex.tool_result` (success,
duration) merged under key_of("tool", "codex", session, call_id); the tool's own
span (named after the tool, codex.tool.phase = dispatch, same call_id and
conversation.id) gets the same key and merges into them.

Precedence, per session and family (measures.FAMILIES): for each family the
best-ranked (lowest `rank`) source in the session that carries it (non-null) wins.
- calls: the completion and failure events (0), else `handle_responses` spans with
  gen_ai.usage.* (1), which name no session and reach theirs through the trace's
  `run_turn` / `codex.sampling` spans (LINK facts) and name no model, else the
  `codex.api_request` count (2).
- input, output, cache_read, cache_write, reasoning tokens: the completion events
  (0), else the `handle_responses` spans (1), else the `codex.turn.token_usage`
  histograms (2). `session_task.turn` repeats the turn's totals on a span and is
  never counted.
- cost, lines, commits, pull_requests: no source (null).
- tool_calls: `tool_decision`/`tool_result` events (0), else the tool's dispatch
  span (1, same key: it merges into the events' fact), else the `codex.tool.call`
  count (2).
- decisions: `tool_decision` events (0), the only source.

Metrics name no session, so their facts land in a "no session" row, whose rank sees
every rank of the same resource. Codex exports each signal with its own resource
(the logs add host.name, the metrics os and os_version, the spans neither), so
every Codex fact is filed under one home key: the resource without those three
attributes. With events or spans present the home row ranks 0 or 1 and the
metrics (2) are ignored; with metrics alone they count.

Spans: a one-turn run sends ~800 (fs.*, append_items, ...). `span` rejects them on
a set lookup of the name and one attribute lookup before anything else.
"""

from __future__ import annotations

import json
from dataclasses import replace

from agentwatch.normalise.adapters.base import (
    NONE,
    Attrs,
    BaseAdapter,
    Facts,
    Origin,
    as_bool,
    as_float,
    as_int,
    as_str,
    key_of,
    labels_of,
    point_fact,
    point_value,
    span_ms,
)
from agentwatch.records import Fact, Kind, LogRow, PointRow, SpanRow

AGENT = "codex"
SESSION_KEY = "conversation.id"
# ReviewDecision, lowercased: approved, approved_for_session, approved_execpolicy_amendment, denied, abort, ...
ACCEPT_PREFIX = "approved"
ACCEPT = frozenset({"accept", "accepted", "allow", "allowed"})
REJECT = frozenset({"denied", "deny", "abort", "aborted", "rejected", "reject", "timed_out", "timedout"})

# Resource attributes Codex adds to one exporter's resource only (see the docstring).
PER_EXPORTER = frozenset({"host.name", "os", "os_version"})

LINK_SPANS = frozenset({"run_turn", "codex.sampling"})
USAGE_SPAN = "handle_responses"
SPANS = LINK_SPANS | {USAGE_SPAN}
TOOL_PHASE = "codex.tool.phase"

TOKEN_TYPES = {  # codex.turn.token_usage token_type → our measure (OpenAI convention = ours)
    "input": "input_tokens",
    "cached_input": "cache_read_tokens",
    "cache_write_input": "cache_write_tokens",
    "output": "output_tokens",
    "reasoning_output": "reasoning_tokens",
}
METRICS = frozenset({"codex.turn.token_usage", "codex.api_request", "codex.tool.call"})

_HOMES: dict[bytes, bytes] = {}
_HOMES_MAX = 4096


def home_of(origin: Origin) -> bytes:
    """The key all of one Codex installation's facts are filed under (see the docstring)."""
    home = _HOMES.get(origin.resource_key)
    if home is None:
        shared = sorted((k, str(v)) for k, v in origin.resource.items() if k not in PER_EXPORTER)
        home = key_of(b"codex-home", json.dumps(shared))
        if len(_HOMES) >= _HOMES_MAX:  # many resources (a misbehaving sender): start over
            _HOMES.clear()
        _HOMES[origin.resource_key] = home
    return home


def decision_counts(decision: str | None) -> tuple[int | None, int | None]:
    """(tool_accepted, tool_rejected) for one Codex decision; (None, None) for anything else."""
    if decision is None:
        return None, None
    lowered = decision.lower()
    if lowered.startswith(ACCEPT_PREFIX) or lowered in ACCEPT:
        return 1, 0
    if lowered in REJECT:
        return 0, 1
    return None, None


def api_request_failed(attrs: Attrs) -> bool:
    """A codex.api_request that got no successful HTTP answer."""
    success = as_bool(attrs.get("success"))
    if success is not None:
        return not success
    if as_str(attrs.get("error.message")):
        return True  # a transport error (Codex then sends no status) or an error status
    status = as_int(attrs.get("http.response.status_code"))
    return status is not None and status >= 400


class Codex(BaseAdapter):
    agent = AGENT
    services = frozenset({"codex_exec", "codex_cli_rs", "codex-tui", "codex_tui", "codex"})
    scope_prefixes = ("codex",)  # codex, codex_exec, codex_otel.log_only, codex_otel::metrics::client
    name_prefixes = ("codex.",)
    content_keys = frozenset({"arguments", "output"})  # tool arguments, tool_result.output

    def owns_service(self, service: str | None) -> bool:
        # service.name is the originator (codex_exec, codex_cli_rs, codex_vscode, ...).
        name = (service or "").lower()
        return name in self.services or name.startswith(("codex_", "codex-"))

    def _fact(
        self, origin: Origin, key: bytes, kind: Kind, time_ns: int, attrs: Attrs, rank: int, **fields: object
    ) -> Fact:
        return Fact(
            key=key,
            kind=kind,
            agent=AGENT,
            resource_key=home_of(origin),
            time_ns=time_ns,
            session=as_str(attrs.get(SESSION_KEY)) or "",
            rank=rank,
            labels=labels_of(origin.resource, attrs),
            **fields,  # type: ignore[arg-type]
        )

    # -- events --------------------------------------------------------------
    def log(self, origin: Origin, row: LogRow, attrs: Attrs) -> Facts:
        event = attrs.get("event.name")
        if event == "codex.sse_event":
            return self._sse(origin, row, attrs)
        if event == "codex.tool_decision" or event == "codex.tool_result":
            return [self._tool(origin, row.dedup_key, row.time_ns, attrs, rank=0)]
        if event == "codex.api_request":
            return self._api_request(origin, row, attrs)
        return NONE

    def _sse(self, origin: Origin, row: LogRow, attrs: Attrs) -> Facts:
        if attrs.get("event.kind") != "response.completed":
            return NONE  # response.failed included: its failure record follows (see the docstring)
        inp = as_int(attrs.get("input_token_count"))
        out = as_int(attrs.get("output_token_count"))
        if inp is not None or out is not None:
            return [
                self._fact(
                    origin,
                    row.dedup_key,
                    Kind.REQUEST,
                    row.time_ns,
                    attrs,
                    0,
                    model=as_str(attrs.get("model")),
                    requests=1,
                    errors=0,
                    # OpenAI Responses usage: cached and cache writes are parts of input,
                    # reasoning a part of output, as in our convention. Nothing is added.
                    input_tokens=inp,
                    output_tokens=out,
                    cache_read_tokens=as_int(attrs.get("cached_token_count")),
                    cache_write_tokens=as_int(attrs.get("cache_write_token_count")),
                    reasoning_tokens=as_int(attrs.get("reasoning_token_count")),
                )
            ]
        error = as_str(attrs.get("error.message"))
        if error is None:
            return NONE  # the raw SSE event's record, before the completion: not a call
        return [self._failed(origin, row, attrs, error)]

    def _api_request(self, origin: Origin, row: LogRow, attrs: Attrs) -> Facts:
        if not api_request_failed(attrs):
            return NONE  # the call is counted by its completion record
        status = attrs.get("http.response.status_code")
        error = as_str(attrs.get("error.message")) or (f"HTTP {status}" if status is not None else "failed")
        return [self._failed(origin, row, attrs, error)]

    def _failed(self, origin: Origin, row: LogRow, attrs: Attrs, error: str) -> Fact:
        return self._fact(
            origin,
            row.dedup_key,
            Kind.REQUEST,
            row.time_ns,
            attrs,
            0,
            model=as_str(attrs.get("model")),
            duration_ms=as_float(attrs.get("duration_ms")),
            error=error,
            requests=1,
            errors=1,
        )

    def _tool(self, origin: Origin, raw_key: bytes, time_ns: int, attrs: Attrs, rank: int, **extra: object) -> Fact:
        session = as_str(attrs.get(SESSION_KEY)) or ""
        call_id = as_str(attrs.get("call_id"))
        decision = as_str(attrs.get("decision"))
        accepted, rejected = decision_counts(decision)
        fields: dict[str, object] = dict(
            model=as_str(attrs.get("model")),
            name=as_str(attrs.get("tool_name")),
            decision=decision,
            decision_source=as_str(attrs.get("source")),
            success=as_bool(attrs.get("success")),
            duration_ms=as_float(attrs.get("duration_ms")),
            tool_calls=1,
            tool_accepted=accepted,
            tool_rejected=rejected,
        )
        fields.update(extra)
        # A tool_result logged without a call id (a tool that failed to start) is its own call.
        key = key_of("tool", AGENT, session, call_id) if call_id else raw_key
        return self._fact(origin, key, Kind.TOOL, time_ns, attrs, rank, **fields)

    # -- spans ---------------------------------------------------------------
    def span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts:
        name = row.name
        if name not in SPANS:
            if attrs.get(TOOL_PHASE) == "dispatch":
                return self._tool_span(origin, row, attrs)
            return NONE
        if name == USAGE_SPAN:
            return self._usage_span(origin, row, attrs)
        session = as_str(attrs.get(SESSION_KEY))
        if session is None or not row.trace_id:
            return NONE
        return [
            Fact(
                key=key_of("link", AGENT, row.trace_id, session),
                kind=Kind.LINK,
                agent=AGENT,
                resource_key=home_of(origin),
                time_ns=row.start_ns,
                session=session,
                trace_id=row.trace_id,
            )
        ]

    def _usage_span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts:
        # Most handle_responses spans are one SSE event each; only the completion carries usage.
        inp = as_int(attrs.get("gen_ai.usage.input_tokens"))
        out = as_int(attrs.get("gen_ai.usage.output_tokens"))
        if inp is None and out is None:
            return NONE
        return [
            self._fact(
                origin,
                row.dedup_key,
                Kind.REQUEST,
                row.start_ns,
                attrs,
                1,
                trace_id=row.trace_id,
                model=as_str(attrs.get("gen_ai.response.model")) or as_str(attrs.get("model")),
                requests=1,
                errors=0,
                # Same usage as the completion event: OpenAI convention, parts not added.
                input_tokens=inp,
                output_tokens=out,
                cache_read_tokens=as_int(attrs.get("gen_ai.usage.cache_read.input_tokens")),
                cache_write_tokens=as_int(attrs.get("gen_ai.usage.cache_write.input_tokens")),
                reasoning_tokens=as_int(attrs.get("codex.usage.reasoning_output_tokens")),
            )
        ]

    def _tool_span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts:
        return [
            self._tool(
                origin,
                row.dedup_key,
                row.start_ns,
                attrs,
                rank=1,
                trace_id=row.trace_id,
                name=as_str(attrs.get("tool_name")) or row.name,
                duration_ms=span_ms(row),
                success=None,  # the dispatch span says only whether it was aborted
            )
        ]

    # -- metrics -------------------------------------------------------------
    def point(self, origin: Origin, row: PointRow, attrs: Attrs) -> Facts:
        name = row.name
        if name not in METRICS:
            return NONE
        n = as_int(point_value(row))
        if n is None:
            return NONE
        home = replace(origin, resource_key=home_of(origin))
        common = dict(rank=2, model=as_str(attrs.get("model")), labels=labels_of(origin.resource, attrs))
        if name == "codex.turn.token_usage":
            measure = TOKEN_TYPES.get(attrs.get("token_type"))  # type: ignore[arg-type]
            if measure is None:
                return NONE  # total, non_cached_input, ...: sums of the others
            return [point_fact(home, row, kind=Kind.USAGE, **{measure: n}, **common)]
        success = as_bool(attrs.get("success"))
        if name == "codex.api_request":
            errors = 0 if success is not False else n
            return [point_fact(home, row, kind=Kind.USAGE, requests=n, errors=errors, **common)]
        return [
            point_fact(
                home, row, kind=Kind.TOOL, name=as_str(attrs.get("tool")), success=success, tool_calls=n, **common
            )
        ]


ADAPTER = Codex()
