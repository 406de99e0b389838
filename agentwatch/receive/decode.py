"""Request bytes → Export*ServiceRequest, or a DecodeError naming the problem."""

from __future__ import annotations

from enum import Enum
from typing import Any

from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from agentwatch.receive.otlp_json import JsonDecodeError, parse_otlp_json
from agentwatch.records import Signal


class Encoding(Enum):
    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


REQUEST_TYPES: dict[Signal, type[Any]] = {
    Signal.LOGS: ExportLogsServiceRequest,
    Signal.METRICS: ExportMetricsServiceRequest,
    Signal.TRACES: ExportTraceServiceRequest,
}
RESPONSE_TYPES: dict[Signal, type[Any]] = {
    Signal.LOGS: ExportLogsServiceResponse,
    Signal.METRICS: ExportMetricsServiceResponse,
    Signal.TRACES: ExportTraceServiceResponse,
}


class DecodeError(ValueError):
    pass


def decode(signal: Signal, body: bytes, encoding: Encoding) -> Any:
    """Decode a request body; raises DecodeError, never anything else, on bad input."""
    message_type = REQUEST_TYPES[signal]
    if encoding is Encoding.JSON:
        try:
            return parse_otlp_json(body, message_type)
        except JsonDecodeError as exc:
            raise DecodeError(f"invalid OTLP/JSON: {exc}") from None
    message = message_type()
    try:
        message.ParseFromString(body)
    except (ProtobufDecodeError, RecursionError, ValueError) as exc:
        raise DecodeError(f"invalid OTLP/protobuf {message_type.__name__}: {exc}") from None
    return message


def record_count(signal: Signal, message: Any) -> int:
    if signal is Signal.LOGS:
        return sum(len(s.log_records) for r in message.resource_logs for s in r.scope_logs)
    if signal is Signal.TRACES:
        return sum(len(s.spans) for r in message.resource_spans for s in r.scope_spans)
    return sum(
        len(getattr(m, m.WhichOneof("data")).data_points)
        for r in message.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
        if m.WhichOneof("data")
    )
