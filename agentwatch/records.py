"""Rows shared by normalise, store and query: what arrived, in neutral form.

Standard library only, so every layer can import it. Attribute maps are
already JSON text here because the store keeps them as JSON and building the
text once, next to the protobuf walk, is cheaper than a second pass.

The per-record rows are NamedTuples rather than frozen dataclasses: they are
just as immutable, cost a quarter as much to build (a frozen dataclass sets
each field through object.__setattr__; 2 µs a row measured, at tens of
thousands of rows a second), and their field order is the column order, so
the writer hands them to SQLite as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from agentwatch.measures import MEASURES  # noqa: F401 - re-exported: the facts' figures


class Signal(str, Enum):
    LOGS = "logs"
    METRICS = "metrics"
    TRACES = "traces"


@dataclass(frozen=True, slots=True)
class ResourceRow:
    key: bytes  # digest of the resource as sent; rows refer to it
    agent: str  # by service.name alone; each row stores its own label (Batch.agents)
    service_name: str | None
    attributes: str  # JSON object
    elided: str | None  # JSON {key: original length} for dropped or truncated values
    dropped_attributes: int
    schema_url: str


@dataclass(frozen=True, slots=True)
class ScopeRow:
    key: bytes
    name: str
    version: str
    attributes: str
    schema_url: str


class LogRow(NamedTuple):
    dedup_key: bytes  # digest of resource + scope + record: a re-sent record has the same key
    resource_key: bytes
    scope_key: bytes
    time_ns: int  # time_unix_nano, else observed time, else the time it was received
    time_unix_nano: int
    observed_ns: int
    severity_number: int
    severity_text: str
    event_name: str  # LogRecord.event_name as sent (the event.name attribute stays an attribute)
    body: str | None  # JSON value
    attributes: str
    elided: str | None
    dropped_attributes: int
    trace_id: bytes
    span_id: bytes
    flags: int


class PointRow(NamedTuple):
    dedup_key: bytes
    resource_key: bytes
    scope_key: bytes
    name: str
    unit: str
    kind: str  # sum, gauge, histogram, exponential_histogram, summary
    temporality: int  # 0 unspecified, 1 delta, 2 cumulative (the OTLP enum)
    monotonic: bool | None
    start_ns: int
    time_ns: int
    value: int | float | None  # sum and gauge points
    sample_count: int | None  # histogram-like points: the OTLP `count` (a field named count would hide tuple.count)
    sum: float | None
    min: float | None
    max: float | None
    detail: str | None  # JSON: buckets, quantiles, exemplars
    attributes: str
    elided: str | None
    flags: int


class SpanRow(NamedTuple):
    dedup_key: bytes
    resource_key: bytes
    scope_key: bytes
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    attributes: str
    elided: str | None
    dropped_attributes: int
    events: str | None  # JSON list
    links: str | None  # JSON list
    trace_state: str
    flags: int


@dataclass(frozen=True, slots=True)
class Batch:
    """One export request, ready to store: it is committed whole or not at all."""

    signal: Signal
    transport: str  # "http" or "grpc"
    received_ns: int
    resources: tuple[ResourceRow, ...]
    scopes: tuple[ScopeRow, ...]
    logs: tuple[LogRow, ...] = ()
    points: tuple[PointRow, ...] = ()
    spans: tuple[SpanRow, ...] = ()
    facts: tuple["Fact", ...] = ()  # what the adapters derived from these rows
    presence: tuple[tuple[int, str], ...] = ()  # (15-minute bucket, agent) of every row, counted or not
    # Each row's agent, in row order (the adapter registry's label, decided per record);
    # empty when nothing was derived: each row is then its resource's agent.
    agents: tuple[str, ...] = ()

    @property
    def rows(self) -> tuple[LogRow, ...] | tuple[PointRow, ...] | tuple[SpanRow, ...]:
        """The request's rows: one signal per request, so only one of the three is filled."""
        return self.logs or self.points or self.spans

    @property
    def records(self) -> int:
        return len(self.rows)


# -- normalised facts ------------------------------------------------------------


class Kind(str, Enum):
    """What a fact is. Precedence is per family of measures (measures.FAMILIES), not per kind."""

    REQUEST = "request"  # one model call
    USAGE = "usage"  # an aggregate of calls (a metric point): tokens, cost, or the agent's own call count
    TOOL = "tool"  # one tool call (and, merged in by call id, its decision)
    DECISION = "decision"  # a tool decision reported apart from its call
    OUTPUT = "output"  # lines, commits, pull requests: proxies of work done
    LINK = "link"  # not counted: ties a trace to a session (an invoke_agent span's id)


# The kinds that make a session active (a start marker or a lines figure alone does not).
ACTIVE_KINDS = frozenset({Kind.REQUEST, Kind.USAGE, Kind.TOOL, Kind.DECISION})


class Fact(NamedTuple):
    """One normalised fact, built by an agent's adapter from one record.

    `key` is the fact's identity: records that describe the same model call or tool
    call (a shared response id, a tool call id) get the same key and are merged, and
    a re-sent record produces a key already stored. Measures hold this record's own
    contribution; for a cumulative metric point they hold the running total and
    `series` names the series, which the store turns into an increase.
    """

    key: bytes
    kind: Kind
    agent: str
    resource_key: bytes
    time_ns: int
    session: str = ""  # the agent's session id; "" when the record names none
    session_scope: str = ""  # what keeps non-unique ids apart (goose: the host); "" if unique
    trace_id: bytes = b""  # lets a fact without a session inherit its trace's session
    model: str | None = None
    rank: int = 0  # precedence: per family, the lowest rank in the session that carries it wins
    name: str | None = None  # tool name
    decision: str | None = None  # accept / reject, as the agent said it
    decision_source: str | None = None  # config, user, ...
    success: bool | None = None
    duration_ms: float | None = None
    error: str | None = None
    requests: int | None = None
    errors: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    lines_added: int | None = None
    lines_removed: int | None = None
    commits: int | None = None
    pull_requests: int | None = None
    tool_calls: int | None = None
    tool_accepted: int | None = None
    tool_rejected: int | None = None
    series: bytes | None = None  # cumulative series identity (without its start time)
    start_ns: int = 0  # the cumulative series' start time
    labels: str | None = None  # JSON {user, team, project, ...} from the resource, for the session
