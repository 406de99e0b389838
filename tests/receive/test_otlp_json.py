"""Tests for the OTLP/JSON decoder.

Expected values are written out by hand (from the OTLP spec, or read off the fixture
bodies once), never computed by the code under test.  The real bodies are the
OTLP/JSON requests under tests/fixtures/agents/<agent>/<scenario>/otlp/, byte-exact
copies of what the agents sent, next to the index.jsonl of their capture.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, TypeVar

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from agentwatch.receive.otlp_json import JsonDecodeError, parse_otlp_json

T = TypeVar("T")

AGENTS = Path(__file__).resolve().parent.parent / "fixtures" / "agents"
BODIES = sorted(p for p in AGENTS.glob("*/*/otlp/*_http_*.json") if not p.name.endswith(".headers.json"))
REQUEST_TYPES: dict[str, type[Any]] = {
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "traces": ExportTraceServiceRequest,
}

TRACE_ID_HEX = "5b8efff798038103d269b633813fc60c"
TRACE_ID = b"\x5b\x8e\xff\xf7\x98\x03\x81\x03\xd2\x69\xb6\x33\x81\x3f\xc6\x0c"
SPAN_ID_HEX = "eee19b7ec3c1b174"
SPAN_ID = b"\xee\xe1\x9b\x7e\xc3\xc1\xb1\x74"
RECORD_PATH = "resourceLogs[0].scopeLogs[0].logRecords[0]"


# ---------------------------------------------------------------------------
# Helpers


def build(message_type: type[T], **fields: Any) -> T:
    """The expected message, from proto field names; nested messages may be dicts."""
    return message_type(**fields)


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


def logs_body(*records: dict[str, Any]) -> bytes:
    return encode({"resourceLogs": [{"scopeLogs": [{"logRecords": list(records)}]}]})


def decode_record(record: dict[str, Any]) -> LogRecord:
    request = parse_otlp_json(logs_body(record), ExportLogsServiceRequest)
    return request.resource_logs[0].scope_logs[0].log_records[0]


def attribute_value(value: Any) -> Any:
    """Decode one attribute with the given JSON AnyValue; return the AnyValue message."""
    return decode_record({"attributes": [{"key": "k", "value": value}]}).attributes[0].value


def span_body(span: dict[str, Any]) -> bytes:
    return encode({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})


def metrics_body(metric: dict[str, Any]) -> bytes:
    return encode({"resourceMetrics": [{"scopeMetrics": [{"metrics": [metric]}]}]})


def decode_metric(metric: dict[str, Any]) -> Any:
    request = parse_otlp_json(metrics_body(metric), ExportMetricsServiceRequest)
    return request.resource_metrics[0].scope_metrics[0].metrics[0]


def fails(body: bytes, message_type: type[Any] = ExportLogsServiceRequest) -> str:
    with pytest.raises(JsonDecodeError) as caught:
        parse_otlp_json(body, message_type)
    return str(caught.value)


def count_records(request: Any, signal: str) -> int:
    if signal == "logs":
        return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
    if signal == "traces":
        return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    return sum(len(s.metrics) for r in request.resource_metrics for s in r.scope_metrics)


def fixture_body(name: str) -> bytes:
    """A captured body named "<agent>__<scenario>__<file>"."""
    agent, scenario, file = name.split("__")
    return (AGENTS / agent / scenario / "otlp" / file).read_bytes()


def nested_array_body(levels: int) -> bytes:
    """A log record whose body is `levels` AnyValues deep, nested through arrayValue."""
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(levels - 1):
        value = {"arrayValue": {"values": [value]}}
    return logs_body({"body": value})


def nested_kvlist_text(levels: int) -> bytes:
    """Built as text so that building the test input cannot itself hit a recursion limit."""
    opening = '{"kvlistValue":{"values":[{"key":"k","value":' * (levels - 1)
    closing = "}]}}" * (levels - 1)
    value = opening + '{"stringValue":"leaf"}' + closing
    return ('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":' + value + "}]}]}]}").encode()


# ---------------------------------------------------------------------------
# Real agent bodies


def test_all_real_json_bodies_are_present() -> None:
    # 22 OTLP/JSON request bodies in the shared agent fixtures, from 7 scenarios.
    assert len(BODIES) == 22
    assert len({path.parent for path in BODIES}) == 7


@pytest.mark.parametrize("path", BODIES, ids=lambda path: f"{path.parts[-4]}/{path.parts[-3]}/{path.stem}")
def test_real_body_decodes_with_the_recorded_number_of_records(path: Path) -> None:
    request_name = path.name
    match = re.fullmatch(r"(\d{4})_http_(logs|metrics|traces)\.json", request_name)
    assert match is not None
    seq, signal = int(match[1]), match[2]
    index_lines = (path.parent / "index.jsonl").read_text().splitlines()
    [entry] = [line for line in map(json.loads, index_lines) if line["seq"] == seq]
    assert entry["signal"] == signal

    request = parse_otlp_json(path.read_bytes(), REQUEST_TYPES[signal])

    assert count_records(request, signal) == entry["records"]


def test_codex_trace_ids_are_hex_not_base64() -> None:
    name = "codex__http_json_default_prompt_redaction__0003_http_traces.json"
    raw = fixture_body(name)
    first_span_json = json.loads(raw)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]

    request = parse_otlp_json(raw, ExportTraceServiceRequest)

    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == bytes.fromhex(first_span_json["traceId"])
    # Read off the body by hand:
    assert span.trace_id == bytes.fromhex("a31a7a3a7cebf90a85f25d1abafffbb3")
    assert span.span_id == bytes.fromhex("c560ee631c2e3299")
    assert span.parent_span_id == bytes.fromhex("f964cea8c406b0b0")
    assert span.name == "build_prompt"
    assert span.kind == 1
    assert span.flags == 257
    assert span.start_time_unix_nano == 1795415521676118106
    assert span.end_time_unix_nano == 1795415521676122452
    resource = request.resource_spans[0].resource
    assert {kv.key: kv.value.string_value for kv in resource.attributes}["service.name"] == "codex_exec"


def test_codex_log_with_zero_time_and_empty_ids() -> None:
    raw = fixture_body("codex__http_json_default_prompt_redaction__0005_http_logs.json")

    record = parse_otlp_json(raw, ExportLogsServiceRequest).resource_logs[0].scope_logs[0].log_records[0]

    assert record.time_unix_nano == 0
    assert record.observed_time_unix_nano == 1795415522304147983
    assert record.severity_number == 9
    assert record.trace_id == b""
    assert record.span_id == b""
    assert not record.HasField("body")  # "body": null
    assert record.event_name == "event otel/src/events/session_telemetry.rs:1089"
    assert record.attributes[2].key == "duration_ms"
    assert record.attributes[2].value.string_value == "23"


def test_copilot_sdk_metrics_mix_numbers_and_strings_for_int64() -> None:
    raw = fixture_body("copilot-sdk__sdk_telemetry_default__0002_http_metrics.json")

    metrics = parse_otlp_json(raw, ExportMetricsServiceRequest).resource_metrics[0].scope_metrics[0].metrics

    duration = metrics[0]
    assert duration.name == "gen_ai.client.operation.duration"
    point = duration.histogram.data_points[0]
    assert point.count == 3  # "count": "3"
    assert point.sum == 0.200999962
    assert list(point.bucket_counts) == [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert point.attributes[4].key == "server.port"
    assert point.attributes[4].value.int_value == 8089  # "intValue": "8089"
    assert point.start_time_unix_nano == 1795422446765081460
    assert duration.histogram.aggregation_temporality == 2
    lines_added = [metric for metric in metrics if metric.name == "github.copilot.code.lines_added"]
    assert lines_added[0].sum.data_points[0].as_int == 12  # "asInt": 12
    assert lines_added[0].sum.is_monotonic is True


def test_claude_log_with_int_attribute_as_json_number() -> None:
    raw = fixture_body("claude-code__http_json_cumulative__0001_http_logs.json")

    record = parse_otlp_json(raw, ExportLogsServiceRequest).resource_logs[0].scope_logs[0].log_records[0]

    assert record.time_unix_nano == 1795415407862000000
    assert record.body.string_value == "claude_code.user_prompt"
    assert record.attributes[5].key == "event.sequence"
    assert record.attributes[5].value.WhichOneof("value") == "int_value"
    assert record.attributes[5].value.int_value == 0


# ---------------------------------------------------------------------------
# traceId / spanId / parentSpanId are hex


@pytest.mark.parametrize(
    ("trace_id", "expected"),
    [
        (TRACE_ID_HEX, TRACE_ID),
        (TRACE_ID_HEX.upper(), TRACE_ID),
        ("5B8EFFF798038103d269b633813fc60c", TRACE_ID),
        ("", b""),
        ("00000000000000000000000000000000", b"\x00" * 16),
    ],
)
def test_trace_id_is_case_insensitive_hex(trace_id: str, expected: bytes) -> None:
    assert decode_record({"traceId": trace_id}).trace_id == expected


@pytest.mark.parametrize(
    ("span_id", "expected"),
    [(SPAN_ID_HEX, SPAN_ID), (SPAN_ID_HEX.upper(), SPAN_ID), ("", b"")],
)
def test_span_id_is_case_insensitive_hex(span_id: str, expected: bytes) -> None:
    assert decode_record({"spanId": span_id}).span_id == expected


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        # base64 of TRACE_ID: what json_format would have accepted
        ("traceId", "W47/95gDgQPSabYzgT/GDA==", "expected 32 hex digits, got 24"),
        ("traceId", TRACE_ID_HEX[:31], "expected 32 hex digits, got 31"),
        ("traceId", TRACE_ID_HEX + "0", "expected 32 hex digits, got 33"),
        ("traceId", SPAN_ID_HEX, "expected 32 hex digits, got 16"),
        ("traceId", "g" + TRACE_ID_HEX[1:], "expected 32 hex digits, got non-hex characters"),
        # 30 digits and two spaces: bytes.fromhex alone would give 15 bytes
        ("traceId", "5b8efff7 98038103 d269b633813fc6", "expected 32 hex digits, got non-hex characters"),
        ("traceId", "0x" + TRACE_ID_HEX[2:], "expected 32 hex digits, got non-hex characters"),
        ("spanId", TRACE_ID_HEX, "expected 16 hex digits, got 32"),
        ("spanId", "7uGbfsPBsXQ=", "expected 16 hex digits, got 12"),
        ("spanId", "eee19b7ec3c1b17", "expected 16 hex digits, got 15"),
        ("spanId", "eee19b7ec3c1b17z", "expected 16 hex digits, got non-hex characters"),
        ("traceId", 123, "expected a string of 32 hex digits, got number 123"),
        ("spanId", [], "expected a string of 16 hex digits, got array"),
    ],
)
def test_bad_ids_are_rejected_with_path(field: str, value: Any, problem: str) -> None:
    assert fails(logs_body({field: value})) == f"{RECORD_PATH}.{field}: {problem}"


def test_bad_id_path_names_the_record_index() -> None:
    body = logs_body({"traceId": TRACE_ID_HEX}, {}, {"traceId": TRACE_ID_HEX[:31]})
    assert fails(body) == "resourceLogs[0].scopeLogs[0].logRecords[2].traceId: expected 32 hex digits, got 31"


def test_span_link_and_parent_ids_are_hex() -> None:
    span = {
        "traceId": TRACE_ID_HEX,
        "spanId": SPAN_ID_HEX,
        "parentSpanId": "0102030405060708",
        "links": [{"traceId": "ffffffffffffffffffffffffffffffff", "spanId": "A1B2C3D4E5F60718"}],
    }

    decoded = parse_otlp_json(span_body(span), ExportTraceServiceRequest).resource_spans[0].scope_spans[0].spans[0]

    assert decoded.trace_id == TRACE_ID
    assert decoded.span_id == SPAN_ID
    assert decoded.parent_span_id == b"\x01\x02\x03\x04\x05\x06\x07\x08"
    assert decoded.links[0].trace_id == b"\xff" * 16
    assert decoded.links[0].span_id == b"\xa1\xb2\xc3\xd4\xe5\xf6\x07\x18"


@pytest.mark.parametrize(
    ("span", "path"),
    [
        ({"parentSpanId": "AQIDBAUGBwg="}, "parentSpanId"),
        ({"links": [{}, {"traceId": "AQIDBAUGBwgJCgsMDQ4PEA=="}]}, "links[1].traceId"),
        ({"links": [{"spanId": "AQIDBAUGBwg="}]}, "links[0].spanId"),
    ],
)
def test_base64_ids_in_spans_and_links_are_rejected(span: dict[str, Any], path: str) -> None:
    message = fails(span_body(span), ExportTraceServiceRequest)
    assert message.startswith(f"resourceSpans[0].scopeSpans[0].spans[0].{path}: expected ")


def test_exemplar_ids_are_hex() -> None:
    metric = {
        "name": "m",
        "sum": {
            "dataPoints": [
                {"asInt": 1, "exemplars": [{"asDouble": 2.5, "traceId": TRACE_ID_HEX, "spanId": SPAN_ID_HEX}]}
            ]
        },
    }

    exemplar = decode_metric(metric).sum.data_points[0].exemplars[0]

    assert exemplar.trace_id == TRACE_ID
    assert exemplar.span_id == SPAN_ID
    assert exemplar.as_double == 2.5


def test_exemplar_base64_id_is_rejected() -> None:
    metric = {"name": "m", "gauge": {"dataPoints": [{"exemplars": [{"traceId": "W47/95gDgQPSabYzgT/GDA=="}]}]}}
    assert fails(metrics_body(metric), ExportMetricsServiceRequest) == (
        "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].exemplars[0].traceId: "
        "expected 32 hex digits, got 24"
    )


# ---------------------------------------------------------------------------
# Other bytes fields are base64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aGVsbG8=", b"hello"),
        ("aGVsbG8", b"hello"),  # padding optional
        ("-_8=", b"\xfb\xff"),  # URL-safe alphabet
        ("+/8=", b"\xfb\xff"),
        ("00ff", b"\xd3\x47\xdf"),  # looks like hex, but bytesValue is base64
        ("", b""),
    ],
)
def test_bytes_value_is_base64(text: str, expected: bytes) -> None:
    assert attribute_value({"bytesValue": text}).bytes_value == expected


@pytest.mark.parametrize("text", ["!!!!", "aGVsbG8=x", "a", "aGVs bG8="])
def test_bad_base64_is_rejected(text: str) -> None:
    message = fails(logs_body({"attributes": [{"key": "k", "value": {"bytesValue": text}}]}))
    assert message == f"{RECORD_PATH}.attributes[0].value.bytesValue: expected a base64 string, got invalid base64"


# ---------------------------------------------------------------------------
# Integers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1795415455838929700, 1795415455838929700),
        ("1795415455838929700", 1795415455838929700),
        ("0", 0),
        (0, 0),
        ("18446744073709551615", 18446744073709551615),  # fixed64 maximum
        (1.0e3, 1000),  # integral JSON number written with an exponent
        ("1e3", 1000),
        ("1.0", 1),
        ("007", 7),
    ],
)
def test_fixed64_time_accepts_numbers_and_decimal_strings(value: Any, expected: int) -> None:
    assert decode_record({"timeUnixNano": value}).time_unix_nano == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (9122, 9122),
        ("200", 200),
        ("-5", -5),
        (-5, -5),
        ("9223372036854775807", 9223372036854775807),
        ("-9223372036854775808", -9223372036854775808),
        (-9223372036854775808, -9223372036854775808),
    ],
)
def test_int_value_accepts_numbers_and_strings(value: Any, expected: int) -> None:
    decoded = attribute_value({"intValue": value})
    assert decoded.WhichOneof("value") == "int_value"
    assert decoded.int_value == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc", 'expected an integer (fixed64) as a JSON number or decimal string, got string "abc"'),
        ("", 'expected an integer (fixed64) as a JSON number or decimal string, got string ""'),
        (" 12", 'expected an integer (fixed64) as a JSON number or decimal string, got string " 12"'),
        ("1_000", 'expected an integer (fixed64) as a JSON number or decimal string, got string "1_000"'),
        ("+5", 'expected an integer (fixed64) as a JSON number or decimal string, got string "+5"'),
        ("\u0663", 'expected an integer (fixed64) as a JSON number or decimal string, got string "\\u0663"'),
        (1.5, "expected an integer (fixed64) as a JSON number or decimal string, got number 1.5"),
        ("1.5", 'expected an integer (fixed64), got the non-integral string "1.5"'),
        (True, "expected an integer (fixed64) as a JSON number or decimal string, got boolean true"),
        ({}, "expected an integer (fixed64) as a JSON number or decimal string, got object"),
        ([1], "expected an integer (fixed64) as a JSON number or decimal string, got array"),
        ("-1", 'string "-1" is out of range for fixed64'),
        (-1, "number -1 is out of range for fixed64"),
        ("18446744073709551616", 'string "18446744073709551616" is out of range for fixed64'),
        ("1e30", 'string "1e30" is out of range for fixed64'),
        ("1" * 50, 'string "' + "1" * 36 + "... is out of range for fixed64"),  # truncated to 40 characters
        ("1e99999999999999999999999", 'string "1e99999999999999999999999" is out of range for fixed64'),
    ],
)
def test_bad_fixed64_is_rejected_with_path(value: Any, problem: str) -> None:
    assert fails(logs_body({"timeUnixNano": value})) == f"{RECORD_PATH}.timeUnixNano: {problem}"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("9223372036854775808", 'string "9223372036854775808" is out of range for int64'),
        (9223372036854775808, "number 9223372036854775808 is out of range for int64"),
        ("-9223372036854775809", 'string "-9223372036854775809" is out of range for int64'),
        ("12abc", 'expected an integer (int64) as a JSON number or decimal string, got string "12abc"'),
    ],
)
def test_bad_int_value_is_rejected_with_path(value: Any, problem: str) -> None:
    body = logs_body({"attributes": [{"key": "k", "value": {"intValue": value}}]})
    assert fails(body) == f"{RECORD_PATH}.attributes[0].value.intValue: {problem}"


def test_int64_numbers_and_strings_mixed_in_one_body() -> None:
    # The Copilot SDK's shape: "asInt": 1 as a number, "count": "3" and intValue "3" as strings.
    body = encode(
        {
            "resourceMetrics": [
                {
                    "scopeMetrics": [
                        {
                            "metrics": [
                                {
                                    "name": "a",
                                    "sum": {"dataPoints": [{"asInt": 1, "timeUnixNano": "1795422447388199677"}]},
                                },
                                {
                                    "name": "b",
                                    "histogram": {
                                        "dataPoints": [
                                            {
                                                "count": "3",
                                                "bucketCounts": ["2", 1, "0"],
                                                "timeUnixNano": 1795422447388199677,
                                                "attributes": [{"key": "n", "value": {"intValue": "3"}}],
                                            }
                                        ]
                                    },
                                },
                            ]
                        }
                    ]
                }
            ]
        }
    )

    metrics = parse_otlp_json(body, ExportMetricsServiceRequest).resource_metrics[0].scope_metrics[0].metrics

    assert metrics[0].sum.data_points[0].as_int == 1
    assert metrics[0].sum.data_points[0].time_unix_nano == 1795422447388199677
    histogram_point = metrics[1].histogram.data_points[0]
    assert histogram_point.count == 3
    assert list(histogram_point.bucket_counts) == [2, 1, 0]
    assert histogram_point.time_unix_nano == 1795422447388199677
    assert histogram_point.attributes[0].value.int_value == 3


@pytest.mark.parametrize(("value", "expected"), [(2, 2), ("2", 2), (4294967295, 4294967295)])
def test_uint32_accepts_numbers_and_strings(value: Any, expected: int) -> None:
    assert decode_record({"droppedAttributesCount": value}).dropped_attributes_count == expected


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("droppedAttributesCount", -1, "number -1 is out of range for uint32"),
        ("droppedAttributesCount", 4294967296, "number 4294967296 is out of range for uint32"),
        ("flags", 4294967296, "number 4294967296 is out of range for fixed32"),
        ("flags", "x", 'expected an integer (fixed32) as a JSON number or decimal string, got string "x"'),
    ],
)
def test_bad_32_bit_integers_are_rejected(field: str, value: Any, problem: str) -> None:
    assert fails(logs_body({field: value})) == f"{RECORD_PATH}.{field}: {problem}"


# ---------------------------------------------------------------------------
# Doubles


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.5, 1.5),
        (2, 2.0),
        (-0.0, -0.0),
        ("1.25", 1.25),
        ("-2e-3", -0.002),
        ("3", 3.0),
        ("Infinity", math.inf),
        ("-Infinity", -math.inf),
        (1e308, 1e308),
    ],
)
def test_double_value_accepts_numbers_and_strings(value: Any, expected: float) -> None:
    decoded = attribute_value({"doubleValue": value})
    assert decoded.WhichOneof("value") == "double_value"
    assert decoded.double_value == expected


def test_double_value_nan() -> None:
    decoded = attribute_value({"doubleValue": "NaN"})
    assert decoded.WhichOneof("value") == "double_value"
    assert math.isnan(decoded.double_value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("nan", 'expected a number or one of "NaN", "Infinity", "-Infinity", got string "nan"'),
        ("inf", 'expected a number or one of "NaN", "Infinity", "-Infinity", got string "inf"'),
        ("1.5 ", 'expected a number or one of "NaN", "Infinity", "-Infinity", got string "1.5 "'),
        ("abc", 'expected a number or one of "NaN", "Infinity", "-Infinity", got string "abc"'),
        (True, 'expected a number or one of "NaN", "Infinity", "-Infinity", got boolean true'),
        ({}, 'expected a number or one of "NaN", "Infinity", "-Infinity", got object'),
        ("1e999", 'string "1e999" is out of range for a double'),
        (10**400, "number is out of range for a double"),
    ],
)
def test_bad_double_is_rejected_with_path(value: Any, problem: str) -> None:
    body = logs_body({"attributes": [{"key": "k", "value": {"doubleValue": value}}]})
    assert fails(body) == f"{RECORD_PATH}.attributes[0].value.doubleValue: {problem}"


def test_double_literal_beyond_range_is_rejected() -> None:
    # json.loads reads 1e999 as infinity; that is not a double the sender can have meant.
    body = b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"k","value":{"doubleValue":1e999}}]}]}]}]}'
    assert fails(body) == f"{RECORD_PATH}.attributes[0].value.doubleValue: number is out of range for a double"


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity"])
def test_bare_nan_and_infinity_tokens_are_not_json(token: bytes) -> None:
    body = (
        b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"k","value":{"doubleValue":'
        + token
        + b"}}]}]}]}]}"
    )
    assert fails(body).startswith("request body: not valid JSON (")


def test_repeated_doubles_and_optional_double_presence() -> None:
    metric = {
        "name": "h",
        "histogram": {"dataPoints": [{"explicitBounds": [0, "1.5", 2.5, "Infinity"], "sum": 0, "min": "0.5"}]},
    }

    point = decode_metric(metric).histogram.data_points[0]

    assert list(point.explicit_bounds) == [0.0, 1.5, 2.5, math.inf]
    assert point.HasField("sum") and point.sum == 0.0  # "sum": 0 is present, not absent
    assert point.min == 0.5
    assert not point.HasField("max")


def test_bad_element_of_repeated_double_names_its_index() -> None:
    metric = {"name": "h", "histogram": {"dataPoints": [{"explicitBounds": [1, 2, "x"]}]}}
    assert fails(metrics_body(metric), ExportMetricsServiceRequest) == (
        "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].explicitBounds[2]: "
        'expected a number or one of "NaN", "Infinity", "-Infinity", got string "x"'
    )


# ---------------------------------------------------------------------------
# Keys: lowerCamelCase, snake_case (lenient), unknown ones ignored


def test_snake_case_proto_field_names_are_accepted() -> None:
    # Decision: proto names are accepted too, as by protobuf's JSON parser and the Collector.
    body = encode(
        {
            "resource_logs": [
                {
                    "scope_logs": [
                        {
                            "log_records": [
                                {
                                    "time_unix_nano": "5",
                                    "observed_time_unix_nano": 6,
                                    "severity_number": 9,
                                    "severity_text": "INFO",
                                    "trace_id": TRACE_ID_HEX,
                                    "span_id": SPAN_ID_HEX,
                                    "dropped_attributes_count": 1,
                                    "event_name": "e",
                                    "body": {"string_value": "hello"},
                                    "attributes": [{"key": "k", "value": {"int_value": "7"}}],
                                }
                            ],
                            "schema_url": "s",
                        }
                    ]
                }
            ]
        }
    )

    request = parse_otlp_json(body, ExportLogsServiceRequest)

    assert request == build(
        ExportLogsServiceRequest,
        resource_logs=[
            {
                "scope_logs": [
                    {
                        "schema_url": "s",
                        "log_records": [
                            {
                                "time_unix_nano": 5,
                                "observed_time_unix_nano": 6,
                                "severity_number": 9,
                                "severity_text": "INFO",
                                "trace_id": TRACE_ID,
                                "span_id": SPAN_ID,
                                "dropped_attributes_count": 1,
                                "event_name": "e",
                                "body": {"string_value": "hello"},
                                "attributes": [{"key": "k", "value": {"int_value": 7}}],
                            }
                        ],
                    }
                ]
            }
        ],
    )


def test_camel_and_snake_case_can_mix_between_objects() -> None:
    record = decode_record({"timeUnixNano": "5", "observed_time_unix_nano": "6", "body": {"stringValue": "b"}})
    assert (record.time_unix_nano, record.observed_time_unix_nano, record.body.string_value) == (5, 6, "b")


def test_both_spellings_of_one_field_are_rejected() -> None:
    message = fails(logs_body({"timeUnixNano": "5", "time_unix_nano": "5"}))
    assert message == f"{RECORD_PATH}.time_unix_nano: field given twice (as timeUnixNano and as time_unix_nano)"


def test_unknown_fields_are_ignored_at_every_level() -> None:
    junk: Any = {"a": [1, "two", None, {"b": {"c": [[[]]]}}], "traceId": "not even hex"}
    body = encode(
        {
            "futureTopLevel": junk,
            "resourceLogs": [
                {
                    "futureResourceLogs": junk,
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": "svc", "futureValue": junk}, "x": 1}
                        ],
                        "entityRefs": [],  # Codex sends it; known to newer protos
                        "futureResource": junk,
                    },
                    "scopeLogs": [
                        {
                            "scope": {"name": "sc", "futureScope": junk},
                            "logRecords": [{"severityText": "INFO", "futureRecord": junk, "TraceId": TRACE_ID_HEX}],
                            "futureScopeLogs": junk,
                        }
                    ],
                }
            ],
        }
    )

    request = parse_otlp_json(body, ExportLogsServiceRequest)

    assert request == build(
        ExportLogsServiceRequest,
        resource_logs=[
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"string_value": "svc"}}]},
                "scope_logs": [{"scope": {"name": "sc"}, "log_records": [{"severity_text": "INFO"}]}],
            }
        ],
    )


def test_null_means_absent() -> None:
    record = decode_record(
        {
            "timeUnixNano": None,
            "body": None,
            "traceId": None,
            "attributes": None,
            "severityNumber": None,
            "severityText": "WARN",
        }
    )

    assert record == LogRecord(severity_text="WARN")
    assert not record.HasField("body")


def test_null_oneof_member_does_not_count_as_set() -> None:
    decoded = attribute_value({"stringValue": None, "intValue": 4})
    assert decoded.WhichOneof("value") == "int_value"
    assert decoded.int_value == 4


def test_null_resource_is_absent() -> None:
    body = encode({"resourceLogs": [{"resource": None, "scopeLogs": []}]})
    request = parse_otlp_json(body, ExportLogsServiceRequest)
    assert len(request.resource_logs) == 1
    assert not request.resource_logs[0].HasField("resource")


# ---------------------------------------------------------------------------
# Enums: integers and (lenient) names


@pytest.mark.parametrize(
    ("value", "expected"),
    [(9, 9), ("SEVERITY_NUMBER_INFO", 9), ("9", 9), (24, 24), (0, 0), (99, 99)],  # 99: proto3 enums are open
)
def test_severity_number_accepts_integer_and_name(value: Any, expected: int) -> None:
    assert decode_record({"severityNumber": value}).severity_number == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            "SEVERITY_NUMBER_NOPE",
            'unknown value string "SEVERITY_NUMBER_NOPE" for enum opentelemetry.proto.logs.v1.SeverityNumber',
        ),
        ("info", 'unknown value string "info" for enum opentelemetry.proto.logs.v1.SeverityNumber'),
        (
            1.5,
            "expected an integer (enum opentelemetry.proto.logs.v1.SeverityNumber) as a JSON number or decimal string, got number 1.5",
        ),
        (2**31, "number 2147483648 is out of range for enum opentelemetry.proto.logs.v1.SeverityNumber"),
        (
            True,
            "expected an integer (enum opentelemetry.proto.logs.v1.SeverityNumber) as a JSON number or decimal string, got boolean true",
        ),
    ],
)
def test_bad_enum_is_rejected(value: Any, problem: str) -> None:
    assert fails(logs_body({"severityNumber": value})) == f"{RECORD_PATH}.severityNumber: {problem}"


def test_span_kind_and_status_code_accept_names_and_integers() -> None:
    body = encode(
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "kind": "SPAN_KIND_SERVER",
                                    "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
                                },
                                {"kind": 3, "status": {"code": 1}},
                            ]
                        }
                    ]
                }
            ]
        }
    )

    spans = parse_otlp_json(body, ExportTraceServiceRequest).resource_spans[0].scope_spans[0].spans

    assert (spans[0].kind, spans[0].status.code, spans[0].status.message) == (2, 2, "boom")
    assert (spans[1].kind, spans[1].status.code) == (3, 1)


def test_aggregation_temporality_accepts_name_and_integer() -> None:
    assert (
        decode_metric(
            {"sum": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE"}}
        ).sum.aggregation_temporality
        == 2
    )
    assert decode_metric({"sum": {"aggregationTemporality": 1}}).sum.aggregation_temporality == 1


# ---------------------------------------------------------------------------
# Wrong JSON types name the path


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"timeUnixNano": "abc"},
            f'{RECORD_PATH}.timeUnixNano: expected an integer (fixed64) as a JSON number or decimal string, got string "abc"',
        ),
        ({"attributes": {}}, f"{RECORD_PATH}.attributes: expected an array, got object"),
        ({"attributes": "k=v"}, f'{RECORD_PATH}.attributes: expected an array, got string "k=v"'),
        (
            {"attributes": [None]},
            f"{RECORD_PATH}.attributes[0]: expected an object (opentelemetry.proto.common.v1.KeyValue), got null",
        ),
        (
            {"attributes": [{"key": "a", "value": {"stringValue": "x"}}, {"key": "b", "value": {"intValue": {}}}]},
            f"{RECORD_PATH}.attributes[1].value.intValue: expected an integer (int64) as a JSON number or decimal string, got object",
        ),
        (
            {"attributes": [{"key": "a", "value": "x"}]},
            f'{RECORD_PATH}.attributes[0].value: expected an object (opentelemetry.proto.common.v1.AnyValue), got string "x"',
        ),
        ({"attributes": [{"key": 5}]}, f"{RECORD_PATH}.attributes[0].key: expected a string, got number 5"),
        ({"severityText": ["INFO"]}, f"{RECORD_PATH}.severityText: expected a string, got array"),
        (
            {"body": "hello"},
            f'{RECORD_PATH}.body: expected an object (opentelemetry.proto.common.v1.AnyValue), got string "hello"',
        ),
        ({"body": {"boolValue": "true"}}, f'{RECORD_PATH}.body.boolValue: expected true or false, got string "true"'),
        ({"body": {"boolValue": 1}}, f"{RECORD_PATH}.body.boolValue: expected true or false, got number 1"),
        (
            {"body": {"arrayValue": []}},
            f"{RECORD_PATH}.body.arrayValue: expected an object (opentelemetry.proto.common.v1.ArrayValue), got array",
        ),
        (
            {"body": {"arrayValue": {"values": [{"stringValue": "a"}, 5]}}},
            f"{RECORD_PATH}.body.arrayValue.values[1]: expected an object (opentelemetry.proto.common.v1.AnyValue), got number 5",
        ),
        (
            {"body": {"kvlistValue": {"values": [{"key": "k", "value": {"doubleValue": "x"}}]}}},
            f'{RECORD_PATH}.body.kvlistValue.values[0].value.doubleValue: expected a number or one of "NaN", "Infinity", "-Infinity", got string "x"',
        ),
    ],
)
def test_wrong_json_types_name_the_path(record: dict[str, Any], message: str) -> None:
    assert fails(logs_body(record)) == message


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"resourceLogs": {}}, "resourceLogs: expected an array, got object"),
        ({"resourceLogs": "x"}, 'resourceLogs: expected an array, got string "x"'),
        (
            {"resourceLogs": ["x"]},
            'resourceLogs[0]: expected an object (opentelemetry.proto.logs.v1.ResourceLogs), got string "x"',
        ),
        (
            {"resourceLogs": [{"resource": "x"}]},
            'resourceLogs[0].resource: expected an object (opentelemetry.proto.resource.v1.Resource), got string "x"',
        ),
        ({"resourceLogs": [{"schemaUrl": 1}]}, "resourceLogs[0].schemaUrl: expected a string, got number 1"),
        ({"resourceLogs": [{}, {"scopeLogs": {}}]}, "resourceLogs[1].scopeLogs: expected an array, got object"),
    ],
)
def test_wrong_json_types_near_the_root_name_the_path(document: dict[str, Any], message: str) -> None:
    assert fails(encode(document)) == message


def test_wrong_type_in_metrics_names_the_path() -> None:
    metric = {"name": "m", "sum": {"isMonotonic": "true"}}
    assert fails(metrics_body(metric), ExportMetricsServiceRequest) == (
        'resourceMetrics[0].scopeMetrics[0].metrics[0].sum.isMonotonic: expected true or false, got string "true"'
    )


def test_lone_surrogate_in_a_string_is_rejected_with_path() -> None:
    body = b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityText":"a\\ud800b"}]}]}]}'
    assert fails(body) == f"{RECORD_PATH}.severityText: string contains an unpaired surrogate (\\ud800-\\udfff escape)"


def test_non_ascii_strings_and_escaped_surrogate_pairs_decode() -> None:
    body = (
        '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityText":"h\\u00e9llo \\ud83d\\ude00 ✓"}]}]}]}'.encode()
    )
    record = parse_otlp_json(body, ExportLogsServiceRequest).resource_logs[0].scope_logs[0].log_records[0]
    assert record.severity_text == "héllo 😀 ✓"


# ---------------------------------------------------------------------------
# oneofs


@pytest.mark.parametrize(
    "value",
    [
        {"stringValue": "a", "intValue": 1},
        {"string_value": "a", "intValue": 1},
        {"boolValue": True, "doubleValue": 1.0, "bytesValue": ""},
    ],
)
def test_two_any_value_members_are_rejected(value: dict[str, Any]) -> None:
    message = fails(logs_body({"attributes": [{"key": "k", "value": value}]}))
    assert message.startswith(f"{RECORD_PATH}.attributes[0].value: more than one member of oneof 'value' is set: ")


def test_any_value_oneof_error_lists_the_members() -> None:
    message = fails(logs_body({"body": {"stringValue": "a", "intValue": 1}}))
    assert message == f"{RECORD_PATH}.body: more than one member of oneof 'value' is set: stringValue, intValue"


def test_as_int_and_as_double_together_are_rejected() -> None:
    metric = {"name": "m", "gauge": {"dataPoints": [{"asInt": 1, "asDouble": 1.5}]}}
    assert fails(metrics_body(metric), ExportMetricsServiceRequest) == (
        "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0]: "
        "more than one member of oneof 'value' is set: asDouble, asInt"
    )


def test_two_metric_data_kinds_are_rejected() -> None:
    metric = {"name": "m", "sum": {}, "gauge": {}}
    assert fails(metrics_body(metric), ExportMetricsServiceRequest) == (
        "resourceMetrics[0].scopeMetrics[0].metrics[0]: more than one member of oneof 'data' is set: gauge, sum"
    )


def test_single_oneof_members_decode() -> None:
    assert decode_metric({"gauge": {"dataPoints": [{"asDouble": 1.5}]}}).gauge.data_points[0].as_double == 1.5
    assert decode_metric({"gauge": {"dataPoints": [{"asInt": "-4"}]}}).gauge.data_points[0].as_int == -4
    empty = attribute_value({})
    assert empty.WhichOneof("value") is None
    assert attribute_value({"boolValue": False}).WhichOneof("value") == "bool_value"


# ---------------------------------------------------------------------------
# The body as a whole


def test_empty_body_is_an_empty_message() -> None:
    request = parse_otlp_json(b"", ExportLogsServiceRequest)
    assert isinstance(request, ExportLogsServiceRequest)
    assert request.ByteSize() == 0


@pytest.mark.parametrize(
    "body", [b"{}", b" { } \n", b'{"resourceLogs": []}', b'{"resourceLogs": null}', b"\xef\xbb\xbf{}"]
)
def test_empty_objects_are_empty_messages(body: bytes) -> None:
    request = parse_otlp_json(body, ExportLogsServiceRequest)
    assert request.ByteSize() == 0
    assert len(request.resource_logs) == 0


@pytest.mark.parametrize(
    "message_type", [ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest]
)
def test_every_signal_accepts_an_empty_object(message_type: type[Any]) -> None:
    assert parse_otlp_json(b"{}", message_type) == message_type()


@pytest.mark.parametrize(
    ("body", "start"),
    [
        (b"not json", "request body: not valid JSON ("),
        (b"{", "request body: not valid JSON ("),
        (b'{"resourceLogs": []} x', "request body: not valid JSON ("),
        (b"{'resourceLogs': []}", "request body: not valid JSON ("),
        (b"   ", "request body: not valid JSON ("),
        (b"[]", "request body: expected a JSON object, got array"),
        (b"null", "request body: expected a JSON object, got null"),
        (b'"resourceLogs"', "request body: expected a JSON object, got string"),
        (b"42", "request body: expected a JSON object, got number"),
        (b"true", "request body: expected a JSON object, got boolean"),
        (b'{"resourceLogs": "\xff"}', "request body: not valid UTF-8 (invalid start byte at byte 18)"),
        (b"\xc3\x28{}", "request body: not valid UTF-8 (invalid continuation byte at byte 0)"),
        ("{}".encode("utf-16"), "request body: not valid UTF-8 ("),
        (b"1" * 5000, "request body: not acceptable JSON ("),
    ],
)
def test_bodies_that_are_not_a_json_object_are_rejected(body: bytes, start: str) -> None:
    assert fails(body).startswith(start)


def test_pretty_printed_and_compact_bodies_decode_the_same() -> None:
    document = {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                "scopeLogs": [
                    {"logRecords": [{"timeUnixNano": "12", "traceId": TRACE_ID_HEX, "body": {"intValue": 3}}]}
                ],
            }
        ]
    }
    expected = build(
        ExportLogsServiceRequest,
        resource_logs=[
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"string_value": "svc"}}]},
                "scope_logs": [
                    {"log_records": [{"time_unix_nano": 12, "trace_id": TRACE_ID, "body": {"int_value": 3}}]}
                ],
            }
        ],
    )

    pretty = json.dumps(document, indent=4).encode()
    compact = json.dumps(document, separators=(",", ":")).encode()

    assert b"\n" in pretty and b" " not in compact
    assert parse_otlp_json(pretty, ExportLogsServiceRequest) == expected
    assert parse_otlp_json(compact, ExportLogsServiceRequest) == expected


def test_json_error_is_a_value_error() -> None:
    assert issubclass(JsonDecodeError, ValueError)
    with pytest.raises(ValueError):
        parse_otlp_json(b"[]", ExportLogsServiceRequest)


# ---------------------------------------------------------------------------
# Deep nesting never escapes as RecursionError


def test_hundred_thousand_open_brackets() -> None:
    assert fails(b"[" * 100_000) == "request body: JSON nested too deeply"


def test_hundred_thousand_open_objects() -> None:
    assert fails(b'{"a":' * 100_000) == "request body: JSON nested too deeply"


def test_five_thousand_deep_kvlist() -> None:
    assert fails(nested_kvlist_text(5000)) == "request body: JSON nested too deeply"


def test_five_thousand_deep_array_value() -> None:
    opening = '{"arrayValue":{"values":[' * 4999
    body = (
        '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":' + opening + '{"intValue":1}' + "]}}" * 4999 + "}]}]}]}"
    ).encode()
    assert fails(body) == "request body: JSON nested too deeply"


def test_nesting_that_json_accepts_but_protobuf_would_not_is_rejected() -> None:
    # 200 AnyValues is about 600 JSON levels: json.loads copes, the depth cap does not allow it.
    message = fails(nested_array_body(200))
    assert message.startswith(f"{RECORD_PATH}.body" + ".arrayValue.values[0]" * 48)
    assert message.endswith(": messages nested more than 100 levels deep")


def test_depth_cap_matches_what_protobuf_can_read_back() -> None:
    # Request > ResourceLogs > ScopeLogs > LogRecord > AnyValue, then two messages per
    # array level: 49 AnyValues reach 100 nested messages, upb's limit.
    request = parse_otlp_json(nested_array_body(49), ExportLogsServiceRequest)
    assert ExportLogsServiceRequest.FromString(request.SerializeToString()) == request
    value = request.resource_logs[0].scope_logs[0].log_records[0].body
    for _ in range(48):
        value = value.array_value.values[0]
    assert value.string_value == "leaf"

    assert fails(nested_array_body(50)).endswith(": messages nested more than 100 levels deep")


def test_moderate_kvlist_nesting_decodes() -> None:
    request = parse_otlp_json(nested_kvlist_text(20), ExportLogsServiceRequest)
    value = request.resource_logs[0].scope_logs[0].log_records[0].body
    for _ in range(19):
        assert value.kvlist_value.values[0].key == "k"
        value = value.kvlist_value.values[0].value
    assert value.string_value == "leaf"


def test_deep_junk_in_an_unknown_field_is_ignored() -> None:
    body = b'{"resourceLogs": [], "junk": ' + b"[" * 300 + b"]" * 300 + b"}"
    assert parse_otlp_json(body, ExportLogsServiceRequest).ByteSize() == 0


# ---------------------------------------------------------------------------
# A whole trace request


def test_full_span_decodes() -> None:
    span = {
        "traceId": TRACE_ID_HEX,
        "spanId": SPAN_ID_HEX,
        "traceState": "k=v",
        "parentSpanId": "",
        "flags": 257,
        "name": "chat gpt-4.1",
        "kind": 3,
        "startTimeUnixNano": "1795422446765081460",
        "endTimeUnixNano": 1795422447388178165,
        "attributes": [
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "3210"}},
            {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 2}]}}},
            {"key": "raw", "value": {"bytesValue": "AQI="}},
        ],
        "droppedAttributesCount": 0,
        "events": [{"timeUnixNano": "7", "name": "gen_ai.choice", "attributes": [], "droppedAttributesCount": 0}],
        "droppedEventsCount": 0,
        "links": [],
        "droppedLinksCount": "1",
        "status": {"message": "", "code": 0},
    }

    request = parse_otlp_json(span_body(span), ExportTraceServiceRequest)

    assert request == build(
        ExportTraceServiceRequest,
        resource_spans=[
            {
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": TRACE_ID,
                                "span_id": SPAN_ID,
                                "trace_state": "k=v",
                                "flags": 257,
                                "name": "chat gpt-4.1",
                                "kind": 3,
                                "start_time_unix_nano": 1795422446765081460,
                                "end_time_unix_nano": 1795422447388178165,
                                "attributes": [
                                    {"key": "gen_ai.usage.input_tokens", "value": {"int_value": 3210}},
                                    {
                                        "key": "tags",
                                        "value": {"array_value": {"values": [{"string_value": "a"}, {"int_value": 2}]}},
                                    },
                                    {"key": "raw", "value": {"bytes_value": b"\x01\x02"}},
                                ],
                                "events": [{"time_unix_nano": 7, "name": "gen_ai.choice"}],
                                "dropped_links_count": 1,
                                "status": {},
                            }
                        ]
                    }
                ]
            }
        ],
    )
