"""OTLP request bodies built by hand, and the replies decoded with the OTLP classes.

Expected values in tests come from here or are written in the test, never from
agentwatch's code: bodies are built with the opentelemetry-proto classes or byte
by byte (protobuf wire format), replies are decoded the same way.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from google.protobuf import json_format
from google.rpc import status_pb2
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
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

REQUESTS: dict[str, type[Any]] = {
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "traces": ExportTraceServiceRequest,
}
RESPONSES: dict[str, type[Any]] = {
    "logs": ExportLogsServiceResponse,
    "metrics": ExportMetricsServiceResponse,
    "traces": ExportTraceServiceResponse,
}
BASE_NS = 1_700_000_000_000_000_000


def string_kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def logs_request(records: list[LogRecord], service: str = "probe-agent") -> ExportLogsServiceRequest:
    resource = Resource(attributes=[string_kv("service.name", service)])
    return ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=resource, scope_logs=[ScopeLogs(log_records=records)])]
    )


def simple_logs(n: int, tag: str = "probe") -> bytes:
    """n distinct log records (distinct times and bodies, so none is a re-send of another)."""
    records = [
        LogRecord(time_unix_nano=BASE_NS + i, body=AnyValue(string_value=f"{tag} {i}")) for i in range(n)
    ]
    return logs_request(records).SerializeToString()


def simple_logs_json(n: int, tag: str = "probe") -> bytes:
    records = [
        {"timeUnixNano": str(BASE_NS + i), "body": {"stringValue": f"{tag} {i}"}} for i in range(n)
    ]
    body = {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "probe-agent"}}]},
                "scopeLogs": [{"logRecords": records}],
            }
        ]
    }
    return json.dumps(body).encode()


def log_records_in(request: ExportLogsServiceRequest) -> int:
    return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)


def decode_response(signal: str, media_type: str, body: bytes) -> Any:
    message = RESPONSES[signal]()
    if media_type == JSON:
        return json_format.Parse(body, message)
    message.ParseFromString(body)
    return message


def decode_status(media_type: str, body: bytes) -> status_pb2.Status:
    """The google.rpc.Status error body, in the encoding the reply says it uses."""
    status = status_pb2.Status()
    if media_type == JSON:
        return json_format.Parse(body, status)
    status.ParseFromString(body)
    return status


# Protobuf wire format, for bodies the classes cannot build (too deep) or must not fix.
def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def length_delimited(field_number: int, payload: bytes) -> bytes:
    return varint(field_number << 3 | 2) + varint(len(payload)) + payload


def nested_any_value(depth: int) -> bytes:
    """An AnyValue that is an array holding an array ... `depth` times, around a string."""
    value = length_delimited(1, b"x")  # AnyValue.string_value = "x"
    for _ in range(depth):
        array = length_delimited(1, value)  # ArrayValue.values
        value = length_delimited(5, array)  # AnyValue.array_value
    return value


def logs_body_with_log_body(any_value: bytes) -> bytes:
    """ExportLogsServiceRequest{resource_logs{scope_logs{log_records{body=any_value}}}} by hand."""
    record = length_delimited(5, any_value)  # LogRecord.body
    scope_logs = length_delimited(2, record)  # ScopeLogs.log_records
    resource_logs = length_delimited(2, scope_logs)  # ResourceLogs.scope_logs
    return length_delimited(1, resource_logs)  # ExportLogsServiceRequest.resource_logs


def gzip_of_zeros(total: int, segment: int = 16 * 1024 * 1024) -> bytes:
    """A single-member gzip of `total` zero bytes (a multiple of segment), built in well under a second.

    zlib level 9 over 1 GiB of zeros takes about 7 s here. Each segment is compressed
    by zlib (level 9) and ended with a full flush, which byte-aligns the output and
    drops the history, so the identical segment can be repeated; a final empty block
    and the gzip trailer (CRC-32 and length of the whole input) close the stream.
    The ratio matches zlib's own (about 1:1000).
    """
    import struct
    import zlib

    assert total % segment == 0
    zeros = bytes(segment)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(total // segment):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, mtime 0, max compression
    trailer = struct.pack("<II", crc, total & 0xFFFFFFFF)
    return header + block * (total // segment) + final + trailer


def any_value(value: object) -> AnyValue:
    """A Python value as an OTLP AnyValue (bool before int: a bool is an int in Python)."""
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=key_values(value)))
    return AnyValue(string_value=str(value))


def key_values(attrs: Mapping[str, object]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]


def json_any_value(value: object) -> dict[str, Any]:
    """The same in OTLP/JSON, int64 as a JSON number (as the JS exporters send it)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": json_key_values(value)}}
    return {"stringValue": str(value)}


def json_key_values(attrs: Mapping[str, object]) -> list[dict[str, Any]]:
    return [{"key": k, "value": json_any_value(v)} for k, v in attrs.items()]
