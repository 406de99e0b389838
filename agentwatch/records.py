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


class Signal(str, Enum):
    LOGS = "logs"
    METRICS = "metrics"
    TRACES = "traces"


@dataclass(frozen=True, slots=True)
class ResourceRow:
    key: bytes  # digest of the resource as sent; rows refer to it
    agent: str
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

    @property
    def rows(self) -> tuple[LogRow, ...] | tuple[PointRow, ...] | tuple[SpanRow, ...]:
        """The request's rows: one signal per request, so only one of the three is filled."""
        return self.logs or self.points or self.spans

    @property
    def records(self) -> int:
        return len(self.rows)
