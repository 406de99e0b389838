"""Gemini CLI: events (logs), cumulative metrics and spans, all under the scope `gemini-cli`.

Where things are: the event name is the prefixed `event.name` attribute
(`gemini_cli.api_response`); the body is a prose sentence and LogRecord.eventName is
empty. The session is `session.id`, a resource attribute that is also copied onto
every point and log record (spans carry it as `gen_ai.conversation.id`).
`service.version` is the Node.js version, not the CLI's, so nothing reads it.

Tokens: Gemini's `input_token_count` (promptTokenCount) already includes the
cached tokens, which are a part of it. Its thoughts are NOT inside
`output_token_count` (candidatesTokenCount): the API's total is prompt +
candidates + thoughts + tool-use prompt (4567 + 89 + 44 + 0 = 4700 in the
captures). So output_tokens = output + thoughts, reasoning_tokens = thoughts, and
the tool-use prompt tokens (`tool_token_count`, tokens the model read from its
built-in tools, outside promptTokenCount) are added to input_tokens.

Precedence, per session and family (measures.FAMILIES): for each family the
best-ranked (lowest `rank`) source in the session that carries it (non-null) wins.
- calls: `api_response`/`api_error` events (0), else the `api.request.count` metric
  (1), else the `llm_call` spans (2), which name the model but carry no usage.
- input, output, cache_read, reasoning tokens: the `api_response` events (0), else
  the `token.usage` metric (1). The spans carry none.
- cache_write tokens, cost, commits, pull_requests: no source (null).
- lines: the `lines.changed` metric (0, the agent's own diff figures), else the
  diff stats in the `tool_call` event's `metadata` (1, the figures the metric is
  recorded from, for sessions whose metrics never arrived). Never `file_operation`
  line counts: those count the file's lines, not the change.
- tool_calls: `tool_call` events (0), else the `tool.call.count` metric (1), else
  the `tool_call` spans (2). The events carry no tool call id, so they cannot merge
  with the spans by key: only ranks keep them apart.
- decisions: `tool_call` events with a decision (0), else `tool.call.count` (1).
Never counted: the `gen_ai.client.token.usage` metric and the
`gen_ai.client.inference.operation.details` events repeat the same calls with input
and output only (no thoughts, no cache), and the metrics' third record of each
failed call is skipped (see `_request_count`).

`session.count` marks a start and is not activity.

Qwen Code is a fork of Gemini CLI with the same shapes under other names:
qwen_code.py subclasses GeminiFamily and changes only what differs.
"""

from __future__ import annotations

import json
from typing import Any

from agentwatch.normalise.adapters.base import (
    NONE,
    STATUS_ERROR,
    Attrs,
    BaseAdapter,
    Facts,
    Origin,
    as_bool,
    as_float,
    as_int,
    as_str,
    decision_counts,
    key_of,
    labels_of,
    point_fact,
    point_value,
    span_ms,
    span_success,
)
from agentwatch.records import Fact, Kind, LogRow, PointRow, SpanRow

# ToolCallDecision in both CLIs: accept (proceed once), auto_accept (proceed always,
# or YOLO/auto-edit mode), modify (accepted after the user edited it in an editor),
# reject (cancel). The rest are spellings other agents use.
ACCEPT = frozenset({"accept", "auto_accept", "modify", "accepted", "approve", "approved", "allow"})
REJECT = frozenset({"reject", "rejected", "cancel", "cancelled", "deny", "denied"})


def _sum(*values: Any) -> int | None:
    """The sum of the token counts that were sent; None when none was (unknown, not 0)."""
    counts = [n for n in map(as_int, values) if n is not None and n >= 0]
    return sum(counts) if counts else None


def _is_success_status(value: Any) -> bool:
    """True for an HTTP 2xx status, as number or string (api_response always says 200)."""
    status = as_int(value)
    return status is not None and 200 <= status < 300


def diff_stats(metadata: Any) -> tuple[int | None, int | None]:
    """(model_added_lines, model_removed_lines) from a tool_call event's `metadata`.

    Gemini sends the metadata as JSON text, Qwen as a key-value list (a dict here).
    Only the model's lines count, as in Gemini's own lines.changed metric; the user_*
    figures are what the user changed in the proposal before accepting it.
    """
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None, None
    if not isinstance(metadata, dict):
        return None, None
    return as_int(metadata.get("model_added_lines")), as_int(metadata.get("model_removed_lines"))


class GeminiFamily(BaseAdapter):
    """What Gemini CLI and its fork Qwen Code share; subclasses set names and conventions."""

    agent = "gemini-cli"
    prefix = "gemini_cli."  # of event and metric names
    content_keys = frozenset(
        {
            "function_args",
            "request_text",
            "response_text",
            "reasoning",
            "routing.reasoning",
            # Process command lines: Gemini's holds the `-p` prompt.
            "process.command_args",
            "process.command_line",
        }
    )
    # Ranks of the two sources of lines: (lines.changed metric, tool_call metadata).
    lines_metric_rank = 0
    lines_metadata_rank = 1

    # -- conventions, overridden by the fork ------------------------------------------
    def session_of(self, origin: Origin, attrs: Attrs) -> str:
        return as_str(attrs.get("session.id")) or as_str(origin.resource.get("session.id")) or ""

    def event_tokens(self, attrs: Attrs) -> dict[str, Any]:
        """An api_response's tokens in our convention (see the module docstring)."""
        thoughts = attrs.get("thoughts_token_count")
        return {
            # tool_token_count (toolUsePromptTokenCount) is outside promptTokenCount.
            "input_tokens": _sum(attrs.get("input_token_count"), attrs.get("tool_token_count")),
            # Thoughts come on top of the candidates; ours count them inside output.
            "output_tokens": _sum(attrs.get("output_token_count"), thoughts),
            "cache_read_tokens": _sum(attrs.get("cached_content_token_count")),  # a part of the prompt
            "reasoning_tokens": _sum(thoughts),
        }

    def metric_tokens(self, kind: Any, n: int) -> dict[str, int] | None:
        """One token.usage point's measures; None for a type we do not count."""
        if kind == "input":
            return {"input_tokens": n}
        if kind == "output":
            return {"output_tokens": n}
        if kind == "thought":  # on top of the output type's candidates, and a part of our output
            return {"output_tokens": n, "reasoning_tokens": n}
        if kind == "cache":  # a part of the input type's prompt: not added to input again
            return {"cache_read_tokens": n}
        if kind == "tool":  # tool-use prompt tokens, outside the input type's prompt
            return {"input_tokens": n}
        return None

    # -- ownership -----------------------------------------------------------------
    def owns_name(self, name: str) -> bool:
        return name.startswith(self.prefix)

    # -- events --------------------------------------------------------------------
    def log(self, origin: Origin, row: LogRow, attrs: Attrs) -> Facts:
        event = attrs.get("event.name")
        if not isinstance(event, str) or not event.startswith(self.prefix):
            return NONE  # gen_ai.client.inference.operation.details repeats api_response
        event = event[len(self.prefix) :]
        if event == "api_response":
            return [self._response(origin, row, attrs)]
        if event == "api_error":
            return [self._error(origin, row, attrs)]
        if event == "tool_call":
            return self._tool_event(origin, row, attrs)
        return NONE

    def _base(self, origin: Origin, key: bytes, kind: Kind, time_ns: int, attrs: Attrs, rank: int) -> dict[str, Any]:
        return dict(
            key=key,
            kind=kind,
            agent=self.agent,
            resource_key=origin.resource_key,
            time_ns=time_ns,
            session=self.session_of(origin, attrs),
            rank=rank,
            labels=labels_of(origin.resource, attrs),
        )

    # A model call's key is its record: Gemini's events carry no response id, and nothing
    # else reports the same call at rank 0 (Qwen's response ids: see qwen_code.py).
    def _response(self, origin: Origin, row: LogRow, attrs: Attrs) -> Fact:
        ok = _is_success_status(attrs.get("status_code")) or attrs.get("status_code") is None
        return Fact(
            **self._base(origin, row.dedup_key, Kind.REQUEST, row.time_ns, attrs, 0),
            model=as_str(attrs.get("model")),
            duration_ms=as_float(attrs.get("duration_ms")),
            error=None if ok else str(attrs.get("status_code")),
            requests=1,
            errors=0 if ok else 1,
            **self.event_tokens(attrs),
        )

    def _error(self, origin: Origin, row: LogRow, attrs: Attrs) -> Fact:
        # The error's type or status names it; its message may quote the request.
        status = as_int(attrs.get("status_code"))
        name = as_str(attrs.get("error.type")) or as_str(attrs.get("error_type"))
        return Fact(
            **self._base(origin, row.dedup_key, Kind.REQUEST, row.time_ns, attrs, 0),
            model=as_str(attrs.get("model")) or as_str(attrs.get("model_name")),
            duration_ms=as_float(attrs.get("duration_ms")),
            error=name or (str(status) if status is not None else "error"),
            requests=1,
            errors=1,
        )

    def _tool_event(self, origin: Origin, row: LogRow, attrs: Attrs) -> Facts:
        decision = as_str(attrs.get("decision"))
        accepted, rejected = decision_counts(decision, ACCEPT, REJECT)
        facts = [
            Fact(
                # No tool call id in the event: the record itself is the key.
                **self._base(origin, row.dedup_key, Kind.TOOL, row.time_ns, attrs, 0),
                name=as_str(attrs.get("function_name")),
                decision=decision,
                success=as_bool(attrs.get("success")),
                duration_ms=as_float(attrs.get("duration_ms")),
                tool_calls=1,
                tool_accepted=accepted,
                tool_rejected=rejected,
            )
        ]
        added, removed = diff_stats(attrs.get("metadata"))
        if added is not None or removed is not None:
            key = key_of("lines", row.dedup_key)
            base = self._base(origin, key, Kind.OUTPUT, row.time_ns, attrs, self.lines_metadata_rank)
            name = as_str(attrs.get("function_name"))
            facts.append(Fact(**base, name=name, lines_added=added or 0, lines_removed=removed or 0))
        return facts

    # -- metrics (cumulative: point_fact turns totals into increases) ----------------
    def point(self, origin: Origin, row: PointRow, attrs: Attrs) -> Facts:
        if not row.name.startswith(self.prefix):
            return NONE  # gen_ai.client.*: the same calls without thoughts or cache
        n = as_int(point_value(row))
        if n is None or n < 0:
            return NONE  # a 0 stays: a reported 0 carries its family
        name = row.name[len(self.prefix) :]
        common: dict[str, Any] = dict(
            session=self.session_of(origin, attrs),
            labels=labels_of(origin.resource, attrs),
        )
        if name == "token.usage":
            fields = self.metric_tokens(attrs.get("type"), n)
            if fields is None:
                return NONE
            model = as_str(attrs.get("model"))
            return [point_fact(origin, row, kind=Kind.USAGE, rank=1, model=model, **fields, **common)]
        if name == "api.request.count":
            return self._request_count(origin, row, attrs, n, common)
        if name == "tool.call.count":
            return self._tool_count(origin, row, attrs, n, common)
        if name == "lines.changed":
            return self._lines(origin, row, attrs, n, common)
        return NONE

    def _request_count(self, origin: Origin, row: PointRow, attrs: Attrs, n: int, common: dict[str, Any]) -> Facts:
        # A failed call is counted with its `error_type`. Gemini CLI also counts it a second
        # time through its response path, without error_type and with the error's status
        # (or "ok" when it had none): only a 2xx point without error_type is a success.
        model = as_str(attrs.get("model"))
        if "error_type" in attrs:
            return [point_fact(origin, row, kind=Kind.USAGE, rank=1, model=model, requests=n, errors=n, **common)]
        if _is_success_status(attrs.get("status_code")):
            return [point_fact(origin, row, kind=Kind.USAGE, rank=1, model=model, requests=n, errors=0, **common)]
        return NONE

    def _tool_count(self, origin: Origin, row: PointRow, attrs: Attrs, n: int, common: dict[str, Any]) -> Facts:
        decision = as_str(attrs.get("decision"))
        accepted, rejected = decision_counts(decision, ACCEPT, REJECT)
        return [
            point_fact(
                origin,
                row,
                kind=Kind.TOOL,
                rank=1,
                name=as_str(attrs.get("function_name")),
                decision=decision,
                success=as_bool(attrs.get("success")),
                tool_calls=n,
                tool_accepted=None if accepted is None else accepted * n,
                tool_rejected=None if rejected is None else rejected * n,
                **common,
            )
        ]

    def _lines(self, origin: Origin, row: PointRow, attrs: Attrs, n: int, common: dict[str, Any]) -> Facts:
        kind = attrs.get("type")
        if kind == "added":
            lines = {"lines_added": n, "lines_removed": 0}  # the family is carried: removed is 0
        elif kind == "removed":
            lines = {"lines_removed": n, "lines_added": 0}
        else:
            return NONE
        name = as_str(attrs.get("function_name"))
        return [point_fact(origin, row, kind=Kind.OUTPUT, rank=self.lines_metric_rank, name=name, **lines, **common)]

    # -- spans ---------------------------------------------------------------------
    def span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Facts:
        if row.name == "llm_call":
            return [self._call_span(origin, row, attrs)]
        if row.name == "tool_call":
            return [self._tool_span(origin, row, attrs)]
        return NONE  # schedule_tool_calls groups the tool_call spans

    def _span_session(self, origin: Origin, attrs: Attrs) -> str:
        return as_str(attrs.get("gen_ai.conversation.id")) or self.session_of(origin, attrs)

    def _span_base(self, origin: Origin, key: bytes, kind: Kind, row: SpanRow, attrs: Attrs) -> dict[str, Any]:
        base = self._base(origin, key, kind, row.start_ns, attrs, 2)
        base["session"] = self._span_session(origin, attrs)
        return base

    def _call_span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Fact:
        failed = row.status_code == STATUS_ERROR
        return Fact(
            **self._span_base(origin, row.dedup_key, Kind.REQUEST, row, attrs),
            model=as_str(attrs.get("gen_ai.response.model")) or as_str(attrs.get("gen_ai.request.model")),
            duration_ms=span_ms(row),
            error=(row.status_message or "error") if failed else None,
            requests=1,
            errors=1 if failed else 0,
        )

    def _tool_span(self, origin: Origin, row: SpanRow, attrs: Attrs) -> Fact:
        session = self._span_session(origin, attrs)
        call_id = as_str(attrs.get("gen_ai.tool.call_id")) or as_str(attrs.get("gen_ai.tool.call.id"))
        key = key_of("tool", self.agent, session, call_id) if call_id else row.dedup_key
        success = span_success(row)
        return Fact(
            **self._span_base(origin, key, Kind.TOOL, row, attrs),
            name=as_str(attrs.get("gen_ai.tool.name")),
            success=success,
            duration_ms=span_ms(row),
            tool_calls=1,
        )


class GeminiCli(GeminiFamily):
    agent = "gemini-cli"
    services = frozenset({"gemini-cli"})
    scope_prefixes = ("gemini-cli",)
    name_prefixes = ("gemini_cli.",)
    prefix = "gemini_cli."


ADAPTER = GeminiCli()
