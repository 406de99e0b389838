"""Export requests → neutral rows (records.py), knowing no agent.

Everything the listener stores goes through here: resource, scope, time and
attributes of every log record, metric data point and span. Content-bearing
values are replaced by their length unless the user opted in, and oversized
records are capped (OpenTelemetry's own attribute limits), so one request can
neither fill the disk with prompts nor carry a value the store cannot hold.

Both rules hold at every depth of a structured value (an array, a key-value
list, bytes, or a log body that is one of those), not only for flat attributes:

- A content key inside a key-value list keeps its key, and its value becomes
  {"elided_length": N}, the marker content-event bodies already get. Marking it
  in place shows where the content was without a path syntax (keys themselves
  contain dots, arrays have indices), and works the same in span events, links
  and scope attributes, which have no `elided` map of their own.
- Strings are cut at MAX_VALUE_CHARS and bytes at what encodes to as many.
- One structured value, as stored JSON, is at most MAX_STRUCTURED_CHARS; a
  larger one is replaced by {"truncated_length": N}.

Whenever a stored value differs from the one sent, the row's `elided` map
holds the length of what was sent under the attribute's key (BODY_KEY for
the log body): a string's length in characters, otherwise that of its JSON text.
"""

from __future__ import annotations

import base64
import json
import json.encoder
import math
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any, Callable, Iterable, Iterator

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from agentwatch.normalise.adapters.registry import agent_label
from agentwatch.normalise.content import CONTENT_EVENTS, is_content_key
from agentwatch.normalise.derive import Derivation, Sink
from agentwatch.records import (
    Batch,
    LogRow,
    PointRow,
    ResourceRow,
    ScopeRow,
    Signal,
    SpanRow,
)

# OpenTelemetry's default AttributeCountLimit; the value cap keeps one attribute
# from dominating a row (a 1 MiB tool output would otherwise be stored whole).
MAX_ATTRIBUTES = 128
MAX_VALUE_CHARS = 8192
MAX_DEPTH = 32
# An array or key-value list of capped strings could still be megabytes; this bounds one value
# (or one log body) as stored JSON text, at eight full-length strings.
MAX_STRUCTURED_CHARS = 64 * 1024
# Raw bytes are stored as base64, 4 characters for every 3 bytes.
MAX_BYTES = MAX_VALUE_CHARS // 4 * 3
# The log body's entry in a log row's `elided` map. An attribute could have any name, this one
# included, but "body" is one Claude Code really sends.
BODY_KEY = "@body"


@dataclass(frozen=True, slots=True)
class ViewPolicy:
    keep_content: bool = False


def _digest(*parts: bytes) -> bytes:
    h = blake2b(digest_size=16)
    for part in parts:
        h.update(part)
    return h.digest()


_MAX_I64 = (1 << 63) - 1


def _i64(value: int) -> int:
    """OTLP times and counts are unsigned 64-bit; SQLite integers are signed.

    A value past 2**63 - 1 (a time after 2262) is nonsense from the sender, but
    valid protobuf: store it clamped rather than fail the whole request.
    """
    return value if value <= _MAX_I64 else _MAX_I64


def dedup_key(time_ns: int, prefix: bytes, content: bytes) -> bytes:
    """The record's own timestamp (big-endian) then a digest of what it says.

    The time prefix makes the store's unique index grow at its right edge, as
    records arrive roughly in time order, instead of scattering 16-byte random
    keys over the whole index (one random page write per record on a large
    database). The timestamp is the one the sender set, so a re-send matches.
    """
    # time_ns is a protobuf fixed64, so it always fits in 8 unsigned bytes.
    return time_ns.to_bytes(8, "big") + blake2b(prefix + content, digest_size=8).digest()


def _unserialisable(value: Any) -> Any:
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _compact_encoder() -> Callable[[Any], str]:
    """Compact JSON text; uses the C encoder directly when available.

    json.dumps rebuilds its C encoder on every call; at two calls per record
    that setup is a measurable share of ingest (about 0.8 µs a call here).
    NaN and Infinity raise (allow_nan=False) rather than write JSON that SQLite's
    json functions reject: every float is meant to pass through _float first.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
    encode = make(None, _unserialisable, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    return lambda value: "".join(encode(value, 0))


_dumps = _compact_encoder()
_encode_str: Callable[[str], str] = json.encoder.encode_basestring


def _float(value: float) -> float | str:
    # JSON has no NaN or Infinity; keep them readable instead of writing invalid JSON.
    return value if math.isfinite(value) else str(value)


def any_value(value: AnyValue, depth: int = 0) -> Any:
    """The value as sent, uncapped: only to measure what was elided or cut."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return _float(value.double_value)
    if kind == "bool_value":
        return value.bool_value
    if depth >= MAX_DEPTH:
        return None
    if kind == "array_value":
        return [any_value(v, depth + 1) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return {"bytes": base64.b64encode(value.bytes_value).decode("ascii")}
    return None


def _content_length(value: AnyValue) -> int:
    if value.WhichOneof("value") == "string_value":
        return len(value.string_value)
    return len(_dumps(any_value(value)))


class _Walk:
    """Capping one structured value: its content policy, the room left, whether anything was cut.

    `room` falls by a lower bound of each part's JSON length (escapes and digits beyond the
    first are not counted), so once it is below zero the value is too large (a kvlist that
    repeats a key, which OTLP forbids, may be replaced early) and the walk stops building it.
    Measuring the length as sent still walks the whole value once (any_value), as storing
    it did before: about 1 s for a 7.6 MiB array of 2 million ints, as it was then.
    """

    __slots__ = ("check_content", "room", "cut")

    def __init__(self, check_content: bool) -> None:
        self.check_content = check_content
        self.room = MAX_STRUCTURED_CHARS
        self.cut = False


def _capped(value: AnyValue, walk: _Walk, depth: int) -> Any:
    """any_value with content elided and strings, bytes and size capped at every depth."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        text = value.string_value
        if len(text) > MAX_VALUE_CHARS:
            walk.cut = True
            text = text[:MAX_VALUE_CHARS]
        walk.room -= len(text) + 2
        return text
    walk.room -= 1
    if kind == "int_value" or kind == "bool_value":
        return getattr(value, kind)
    if kind == "double_value":
        return _float(value.double_value)
    if depth >= MAX_DEPTH:
        walk.cut = True
        return None
    if kind == "array_value":
        return _capped_array(value.array_value.values, walk, depth)
    if kind == "kvlist_value":
        return _capped_kvlist(value.kvlist_value.values, walk, depth)
    if kind == "bytes_value":
        raw = value.bytes_value
        if len(raw) > MAX_BYTES:
            walk.cut = True
            raw = raw[:MAX_BYTES]
        text = base64.b64encode(raw).decode("ascii")
        walk.room -= len(text) + len('{"bytes":""}') - 1  # its first character is counted above
        return {"bytes": text}
    return None


def _capped_array(values: Any, walk: _Walk, depth: int) -> list[Any]:
    out = []
    for item in values:
        if walk.room < 0:  # too large already: the whole value will be replaced
            break
        out.append(_capped(item, walk, depth + 1))
        walk.room -= 1
    return out


def _capped_kvlist(kvs: Any, walk: _Walk, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        if walk.room < 0:
            break
        key = kv.key
        walk.room -= len(key) + 4
        if walk.check_content and _is_content(key):
            walk.cut = True
            walk.room -= len('{"elided_length":}')
            out[key] = {"elided_length": _content_length(kv.value)}
        else:
            out[key] = _capped(kv.value, walk, depth + 1)
    return out


def _structured(key: str, value: AnyValue, check_content: bool, elided: dict[str, int]) -> Any:
    """A non-string value, made safe to store; records in elided what it changed."""
    walk = _Walk(check_content)
    plain = _capped(value, walk, 0)
    # Measured exactly (it is encoded again with its row): structured values are rare, a few in
    # a hundred attributes in the agents' captures.
    if walk.room < 0 or len(_dumps(plain)) > MAX_STRUCTURED_CHARS:
        length = _content_length(value)
        elided[key] = length
        return {"truncated_length": length}
    if walk.cut:
        elided[key] = _content_length(value)
    return plain


Attributes = tuple[dict[str, Any], dict[str, int], int]  # values, elided lengths, dropped count


def _elided_json(elided: dict[str, int]) -> str | None:
    return _dumps(elided) if elided else None


def attributes(kvs: Any, policy: ViewPolicy, dropped: int = 0) -> Attributes:
    """Attribute list → plain values, with content elided and the OTel limits applied.

    This runs for every record, so the scalar cases are inlined rather than
    going through any_value: it is the hottest loop of ingest.
    """
    out: dict[str, Any] = {}
    elided: dict[str, int] = {}
    if len(kvs) > MAX_ATTRIBUTES:
        dropped += len(kvs) - MAX_ATTRIBUTES
        kvs = kvs[:MAX_ATTRIBUTES]
    check_content = not policy.keep_content
    for kv in kvs:
        key = kv.key
        value = kv.value
        if check_content and key not in _PLAIN_KEYS and _is_content(key):
            elided[key] = _content_length(value)
            continue
        kind = value.WhichOneof("value")
        if kind == "string_value":
            text = value.string_value
            if len(text) > MAX_VALUE_CHARS:
                elided[key] = len(text)
                text = text[:MAX_VALUE_CHARS]
            out[key] = text
        elif kind == "int_value":
            out[key] = value.int_value
        elif kind == "bool_value":
            out[key] = value.bool_value
        elif kind == "double_value":  # cost_usd and the like: common enough to skip the walk
            out[key] = _float(value.double_value)
        else:
            out[key] = _structured(key, value, check_content, elided)
    return out, elided, dropped


# Keys repeat across records and almost none carry content, so the hot loop first asks a
# set of keys already found plain (bounded, so odd senders cannot grow it).
_PLAIN_KEYS: set[str] = set()


def _is_content(key: str) -> bool:
    if key in _PLAIN_KEYS:
        return False
    if is_content_key(key):
        return True
    if len(_PLAIN_KEYS) < 10_000:
        _PLAIN_KEYS.add(key)
    return False


class _Interner:
    """Resources and scopes of one request, each stored once and referred to by digest."""

    def __init__(self, policy: ViewPolicy) -> None:
        self.policy = policy
        self.resources: dict[bytes, ResourceRow] = {}
        self.values: dict[bytes, dict[str, Any]] = {}  # resource attribute values, for adapters
        self.scopes: dict[bytes, ScopeRow] = {}

    def resource(self, resource: Resource, schema_url: str) -> bytes:
        key = _digest(resource.SerializeToString(deterministic=True), schema_url.encode())
        if key not in self.resources:
            values, elided, dropped = attributes(
                resource.attributes, self.policy, resource.dropped_attributes_count
            )
            service = values.get("service.name")
            service = service if isinstance(service, str) else None
            self.values[key] = values
            self.resources[key] = ResourceRow(
                key, agent_label(service), service, _dumps(values), _elided_json(elided), dropped, schema_url
            )
        return key

    def scope(self, scope: InstrumentationScope, schema_url: str) -> bytes:
        key = _digest(scope.SerializeToString(deterministic=True), schema_url.encode())
        if key not in self.scopes:
            values = attributes(scope.attributes, self.policy)[0]
            self.scopes[key] = ScopeRow(key, scope.name, scope.version, _dumps(values), schema_url)
        return key


def _log_rows(
    records: Iterable[LogRecord], rkey: bytes, skey: bytes, received_ns: int, policy: ViewPolicy, sink: Sink | None
) -> Iterator[LogRow]:
    prefix = rkey + skey
    for record in records:
        row, values = _log_row(record, prefix, rkey, skey, received_ns, policy)
        if sink is not None:
            sink(row, values)
        yield row


def _is_content_event(record: LogRecord, values: dict[str, Any]) -> bool:
    # Agents disagree on where the event name lives (Codex puts a source callsite
    # in eventName and the name in an attribute), so either one counts.
    return record.event_name in CONTENT_EVENTS or values.get("event.name") in CONTENT_EVENTS


def _log_body(
    record: LogRecord, values: dict[str, Any], policy: ViewPolicy, elided: dict[str, int]
) -> str | None:
    """The body as JSON text, under the same rules as an attribute named BODY_KEY."""
    if not record.HasField("body"):
        return None
    body = record.body
    if not policy.keep_content and _is_content_event(record, values):
        elided[BODY_KEY] = _content_length(body)
        return _dumps({"elided_length": elided[BODY_KEY]})
    if body.WhichOneof("value") == "string_value":  # most bodies: skip the general encoder
        text = body.string_value
        if len(text) > MAX_VALUE_CHARS:
            elided[BODY_KEY] = len(text)
            text = text[:MAX_VALUE_CHARS]
        return _encode_str(text)
    return _dumps(_structured(BODY_KEY, body, not policy.keep_content, elided))


def _log_row(
    record: LogRecord, prefix: bytes, rkey: bytes, skey: bytes, received_ns: int, policy: ViewPolicy
) -> tuple[LogRow, dict[str, Any]]:
    values, elided, dropped = attributes(record.attributes, policy, record.dropped_attributes_count)
    body = _log_body(record, values, policy, elided)  # before _elided_json: it may add BODY_KEY
    sent_ns = record.time_unix_nano
    observed_ns = record.observed_time_unix_nano
    row = LogRow(
        dedup_key(sent_ns or observed_ns, prefix, record.SerializeToString(deterministic=True)),
        rkey,
        skey,
        _i64(sent_ns or observed_ns or received_ns),
        _i64(sent_ns),
        _i64(observed_ns),
        record.severity_number,
        record.severity_text,
        record.event_name,
        body,
        _dumps(values),
        _elided_json(elided),
        dropped,
        record.trace_id,
        record.span_id,
        record.flags,
    )
    return row, values


def _metric_rows(
    metrics: Iterable[Metric], rkey: bytes, skey: bytes, received_ns: int, policy: ViewPolicy, sink: Sink | None
) -> Iterator[PointRow]:
    for metric in metrics:
        yield from _point_rows(metric, rkey, skey, policy, sink)


def _exemplars(points_exemplars: Iterable[Any]) -> list[dict[str, Any]]:
    out = []
    for ex in points_exemplars:
        value = ex.as_int if ex.WhichOneof("value") == "as_int" else _float(ex.as_double)
        out.append(
            {
                "time_ns": ex.time_unix_nano,
                "value": value,
                "trace_id": ex.trace_id.hex(),
                "span_id": ex.span_id.hex(),
            }
        )
    return out


def _point_rows(metric: Metric, rkey: bytes, skey: bytes, policy: ViewPolicy, sink: Sink | None) -> list[PointRow]:
    kind = metric.WhichOneof("data")
    if kind is None:
        return []
    data = getattr(metric, kind)
    temporality = getattr(data, "aggregation_temporality", 0)
    monotonic = data.is_monotonic if kind == "sum" else None
    identity = _dumps([metric.name, metric.unit, kind, temporality, monotonic]).encode()
    prefix = rkey + skey + identity
    rows = []
    for point in data.data_points:
        value: int | float | None = None
        count = total = low = high = None
        detail: dict[str, Any] = {}
        if kind in ("sum", "gauge"):
            which = point.WhichOneof("value")
            value = point.as_int if which == "as_int" else point.as_double if which else None
            if isinstance(value, float) and not math.isfinite(value):
                value = None
        else:
            count = _i64(point.count)
            total = point.sum if kind == "summary" or point.HasField("sum") else None
            if kind != "summary":
                low = point.min if point.HasField("min") else None
                high = point.max if point.HasField("max") else None
            detail = _distribution(kind, point)
        if kind != "summary" and len(point.exemplars):
            detail["exemplars"] = _exemplars(point.exemplars)
        values, elided, _ = attributes(point.attributes, policy)
        row = PointRow(
                dedup_key=dedup_key(point.time_unix_nano, prefix, point.SerializeToString(deterministic=True)),
                resource_key=rkey,
                scope_key=skey,
                name=metric.name,
                unit=metric.unit,
                kind=kind,
                temporality=temporality,
                monotonic=monotonic,
                start_ns=_i64(point.start_time_unix_nano),
                time_ns=_i64(point.time_unix_nano),
                value=value,
                sample_count=count,
                sum=total,
                min=low,
                max=high,
                detail=_dumps(detail) if detail else None,
                attributes=_dumps(values),
                elided=_elided_json(elided),
                flags=point.flags,
            )
        if sink is not None:
            sink(row, values)
        rows.append(row)
    return rows


def _distribution(kind: str, point: Any) -> dict[str, Any]:
    # Every double goes through _float: a sender's NaN or Infinity would otherwise make the
    # whole detail invalid JSON (and the encoder refuses it).
    if kind == "histogram":
        return {"bounds": [_float(b) for b in point.explicit_bounds], "counts": list(point.bucket_counts)}
    if kind == "exponential_histogram":
        return {
            "scale": point.scale,
            "zero_count": point.zero_count,
            "zero_threshold": _float(point.zero_threshold),
            "positive": {"offset": point.positive.offset, "counts": list(point.positive.bucket_counts)},
            "negative": {"offset": point.negative.offset, "counts": list(point.negative.bucket_counts)},
        }
    return {"quantiles": [[_float(q.quantile), _float(q.value)] for q in point.quantile_values]}


def _span_rows(
    spans: Iterable[Span], rkey: bytes, skey: bytes, received_ns: int, policy: ViewPolicy, sink: Sink | None
) -> Iterator[SpanRow]:
    prefix = rkey + skey
    for span in spans:
        row, values = _span_row(span, prefix, rkey, skey, policy)
        if sink is not None:
            sink(row, values)
        yield row


def _span_row(
    span: Span, prefix: bytes, rkey: bytes, skey: bytes, policy: ViewPolicy
) -> tuple[SpanRow, dict[str, Any]]:
    values, elided, dropped = attributes(span.attributes, policy, span.dropped_attributes_count)
    events = []
    for event in span.events:
        event_values, event_elided, _ = attributes(event.attributes, policy)
        events.append(
            {
                "name": event.name,
                "time_ns": event.time_unix_nano,
                "attributes": event_values,
                "elided": event_elided or None,
            }
        )
    links = [
        {
            "trace_id": link.trace_id.hex(),
            "span_id": link.span_id.hex(),
            "attributes": attributes(link.attributes, policy)[0],
        }
        for link in span.links
    ]
    row = SpanRow(
        dedup_key=dedup_key(span.end_time_unix_nano, prefix, span.SerializeToString(deterministic=True)),
        resource_key=rkey,
        scope_key=skey,
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name,
        kind=span.kind,
        start_ns=_i64(span.start_time_unix_nano),
        end_ns=_i64(span.end_time_unix_nano),
        status_code=span.status.code,
        status_message=span.status.message,
        attributes=_dumps(values),
        elided=_elided_json(elided),
        dropped_attributes=dropped,
        events=_dumps(events) if events else None,
        links=_dumps(links) if links else None,
        trace_state=span.trace_state,
        flags=span.flags,
    )
    return row, values


@dataclass(frozen=True, slots=True)
class _Shape:
    """Where a signal's records sit in its export request, and how each becomes rows."""

    resources: str  # resource_logs, ...
    scopes: str  # scope_logs, ...
    items: str  # log_records, ...
    rows: Callable[[Any, bytes, bytes, int, ViewPolicy, Sink], Iterator[Any]]
    field: str  # the Batch field the rows go to


_SHAPES = {
    Signal.LOGS: _Shape("resource_logs", "scope_logs", "log_records", _log_rows, "logs"),
    Signal.METRICS: _Shape("resource_metrics", "scope_metrics", "metrics", _metric_rows, "points"),
    Signal.TRACES: _Shape("resource_spans", "scope_spans", "spans", _span_rows, "spans"),
}


def batch_of(
    signal: Signal,
    request: Any,
    transport: str,
    received_ns: int,
    policy: ViewPolicy,
    derive: Derivation | None = None,
) -> Batch:
    """One export request's rows, and the facts `derive` reads from them.

    Its resources and scopes are each stored once. Pass derive=None for rows
    only (a benchmark's baseline); the product always derives.
    """
    shape = _SHAPES[signal]
    interner = _Interner(policy)
    rows: list[Any] = []
    for resource_group in getattr(request, shape.resources):
        rkey = interner.resource(resource_group.resource, resource_group.schema_url)
        resource = interner.resources[rkey]
        for scope_group in getattr(resource_group, shape.scopes):
            skey = interner.scope(scope_group.scope, scope_group.schema_url)
            sink = None
            if derive is not None:
                values = interner.values[rkey]
                sink = derive.for_scope(signal, rkey, resource.service_name, values, scope_group.scope.name)
            rows.extend(shape.rows(getattr(scope_group, shape.items), rkey, skey, received_ns, policy, sink))
    return Batch(
        signal,
        transport,
        received_ns,
        tuple(interner.resources.values()),
        tuple(interner.scopes.values()),
        **{shape.field: tuple(rows)},
        facts=tuple(derive.facts) if derive is not None else (),
        presence=tuple(derive.presence) if derive is not None else (),
        agents=tuple(derive.agents) if derive is not None else (),
    )
