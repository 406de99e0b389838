"""OTLP/gRPC behaviour of a real `agentwatch serve` (RELIABILITY P1, P5, P13; T20).

Requests are sent as raw bytes on a generic channel (no generated stubs), as the
listener reads them, so the test controls exactly what goes over the wire.
"""

from __future__ import annotations

from typing import Any, Iterator

import grpc
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from support.listener import Listener, query, start_listener
from support.otlp_build import BASE_NS, REQUESTS, RESPONSES, simple_logs, string_kv
from support.probe import alive, table_counts
from support.replay import GRPC_METHODS

ROW_TABLES = {"logs": "log_records", "metrics": "metric_points", "traces": "spans"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    listener = start_listener(tmp_path_factory.mktemp("grpc") / "agentwatch.db")
    yield listener
    assert listener.stop() == 0, "".join(listener.stderr_lines)


@pytest.fixture(scope="module")
def channel(srv: Listener) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(srv.grpc_target) as chan:
        yield chan


def _resource(tag: str) -> Resource:
    return Resource(attributes=[string_kv("service.name", "probe-agent"), string_kv("probe.tag", tag)])


def valid_request(signal: str, tag: str, n: int = 3) -> bytes:
    """n records of `signal`, built with the OTLP classes; distinct per tag."""
    if signal == "logs":
        return simple_logs(n, tag)
    if signal == "metrics":
        points = [NumberDataPoint(time_unix_nano=BASE_NS + i, as_int=i) for i in range(n)]
        metric = Metric(name=f"probe.{tag}", unit="1", gauge=Gauge(data_points=points))
        scope = ScopeMetrics(scope=InstrumentationScope(name="probe"), metrics=[metric])
        return REQUESTS["metrics"](resource_metrics=[ResourceMetrics(resource=_resource(tag), scope_metrics=[scope])]).SerializeToString()
    spans = [
        Span(
            trace_id=bytes(range(16)), span_id=bytes([i + 1] * 8), name=f"{tag} {i}",
            start_time_unix_nano=BASE_NS + i, end_time_unix_nano=BASE_NS + i + 1,
        )
        for i in range(n)
    ]
    scope_spans = ScopeSpans(scope=InstrumentationScope(name="probe"), spans=spans)
    return REQUESTS["traces"](resource_spans=[ResourceSpans(resource=_resource(tag), scope_spans=[scope_spans])]).SerializeToString()


def export(channel: grpc.Channel, signal: str, body: bytes, **kw: Any) -> bytes:
    return channel.unary_unary(GRPC_METHODS[signal])(body, timeout=15, **kw)


def _status_details(error: grpc.RpcError) -> status_pb2.Status | None:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    return None


@pytest.mark.parametrize("signal", ["logs", "metrics", "traces"])
@pytest.mark.parametrize("compression", [None, grpc.Compression.Gzip], ids=["plain", "gzip"])
def test_each_service_accepts_a_valid_export_and_stores_it(
    srv: Listener, channel: grpc.Channel, signal: str, compression: grpc.Compression | None
) -> None:
    table = ROW_TABLES[signal]
    before = srv.count(table)
    reply = export(channel, signal, valid_request(signal, f"valid {compression}"), compression=compression)
    response = RESPONSES[signal].FromString(reply)
    assert not response.HasField("partial_success")
    assert srv.count(table) == before + 3


def test_stored_span_ids_are_the_bytes_sent(srv: Listener, channel: grpc.Channel) -> None:
    export(channel, "traces", valid_request("traces", "ids", n=1))
    rows = query(srv.db, "SELECT trace_id, span_id, start_ns FROM spans WHERE name = 'ids 0'")
    assert rows == [(bytes(range(16)), b"\x01" * 8, BASE_NS)]


@pytest.mark.parametrize("signal", ["logs", "metrics", "traces"])
def test_an_empty_export_is_ok_and_stores_nothing(srv: Listener, channel: grpc.Channel, signal: str) -> None:
    before = table_counts(srv)
    assert RESPONSES[signal].FromString(export(channel, signal, b"")).ByteSize() == 0
    assert table_counts(srv) == before


GARBAGE = [
    b"\xff\xff\xff\xff",
    b"\x0a\x05abc",  # a length running past the end
    b"\x0a\x02\x12\x10",  # nested length past the end
    b"\x08",  # a varint field with no value
    b"\x0a\x80",  # truncated length varint
]


@pytest.mark.parametrize("signal", ["logs", "metrics", "traces"])
@pytest.mark.parametrize("body", GARBAGE, ids=[f"garbage{i}" for i in range(len(GARBAGE))])
def test_garbage_is_invalid_argument_with_a_message_and_stores_nothing(
    srv: Listener, channel: grpc.Channel, signal: str, body: bytes
) -> None:
    message = REQUESTS[signal]()
    with pytest.raises(Exception):  # the reference runtime refuses it as well
        message.ParseFromString(body)
    before = table_counts(srv)
    with pytest.raises(grpc.RpcError) as caught:
        export(channel, signal, body)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details()
    details = _status_details(caught.value)
    assert details is not None and details.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert details.message == caught.value.details()
    assert table_counts(srv) == before


@pytest.mark.parametrize(
    "method",
    [
        "/opentelemetry.proto.collector.logs.v1.LogsService/Nope",
        "/opentelemetry.proto.collector.logs.v1.LogService/Export",
        "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export",
        "/grpc.health.v1.Health/Check",
        "/x/y",
    ],
)
def test_unknown_methods_are_unimplemented(srv: Listener, channel: grpc.Channel, method: str) -> None:
    before = table_counts(srv)
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(method)(simple_logs(1, "unknown method"), timeout=10)
    assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
    assert table_counts(srv) == before


def test_a_logs_body_sent_to_the_traces_service_stores_no_log_records(srv: Listener, channel: grpc.Channel) -> None:
    # Field 1 of both requests is a repeated message, so logs parse as traces with
    # unknown fields inside: OK, and no spans, since none of the fields are spans.
    body = simple_logs(2, "wrong service")
    reference = REQUESTS["traces"].FromString(body)
    spans = sum(len(s.spans) for r in reference.resource_spans for s in r.scope_spans)
    before = table_counts(srv)
    export(channel, "traces", body)
    assert srv.count("log_records") == before["log_records"]
    assert srv.count("spans") == before["spans"] + spans


def test_the_server_keeps_serving_after_refusals(srv: Listener, channel: grpc.Channel) -> None:
    for body in GARBAGE:
        with pytest.raises(grpc.RpcError):
            export(channel, "logs", body)
    assert alive(srv)
    before = srv.count("log_records")
    export(channel, "logs", valid_request("logs", "after garbage"))
    assert srv.count("log_records") == before + 3


def test_a_fixed64_time_beyond_int64_is_accepted(srv: Listener, channel: grpc.Channel) -> None:
    # A valid fixed64; the record is stored or counted as rejected in partial_success (P4).
    body = REQUESTS["traces"](
        resource_spans=[
            ResourceSpans(scope_spans=[ScopeSpans(spans=[Span(trace_id=b"\x07" * 16, span_id=b"\x07" * 8, name="far future",
                                                              start_time_unix_nano=2**64 - 1, end_time_unix_nano=2**64 - 1)])])
        ]
    ).SerializeToString()
    before = srv.count("spans")
    response = RESPONSES["traces"].FromString(export(channel, "traces", body))
    assert srv.count("spans") - before + response.partial_success.rejected_spans == 1

