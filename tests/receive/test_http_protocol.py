"""OTLP/HTTP protocol behaviour of a real `agentwatch serve`, over loopback (RELIABILITY T3–T7, T13–T15).

Every refusal is checked for its status, its google.rpc.Status body in the
request's encoding, and for "nothing stored": all raw tables keep their row
counts. Expected values are written here or computed with the protobuf classes.
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
import struct
from typing import Any, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs

from support import rawhttp
from support.listener import Listener, query, start_listener
from support.otlp_build import (
    JSON,
    PROTOBUF,
    REQUESTS,
    decode_response,
    decode_status,
    logs_body_with_log_body,
    logs_request,
    nested_any_value,
    simple_logs,
    simple_logs_json,
)
from support.probe import alive, table_counts
from support.replay import FIXTURES

SIGNALS = ("logs", "metrics", "traces")
ROOT_KEYS = {"logs": "resourceLogs", "metrics": "resourceMetrics", "traces": "resourceSpans"}
ROW_TABLES = {"logs": "log_records", "metrics": "metric_points", "traces": "spans"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    listener = start_listener(tmp_path_factory.mktemp("http-protocol") / "agentwatch.db")
    yield listener
    assert listener.stop() == 0, "".join(listener.stderr_lines)


def post(srv: Listener, path: str, body: bytes, content_type: str | None = PROTOBUF, **kw: Any) -> rawhttp.RawResponse:
    return rawhttp.post(srv.http_port, path, body, content_type, **kw)


def assert_refused(resp: rawhttp.RawResponse, status: int, encoding: str, *mentions: str) -> str:
    """The status code, a google.rpc.Status body in `encoding` with a message; returns the message."""
    assert resp.status == status, resp.body[:300]
    assert resp.media_type == encoding
    message = decode_status(encoding, resp.body).message
    assert message
    for word in mentions:
        assert word in message, message
    return message


_liveness_checks = itertools.count()


def assert_still_serving(srv: Listener) -> None:
    assert alive(srv)
    before = srv.count("log_records")
    assert post(srv, "/v1/logs", simple_logs(1, tag=f"alive {next(_liveness_checks)}")).status == 200
    assert srv.count("log_records") == before + 1


# T3 ---------------------------------------------------------------------------------------------

EMPTY_REQUESTS = [
    *[(s, PROTOBUF, b"") for s in SIGNALS],
    *[(s, JSON, b"") for s in SIGNALS],
    *[(s, JSON, b"{}") for s in SIGNALS],
    *[(s, JSON, json.dumps({ROOT_KEYS[s]: []}).encode()) for s in SIGNALS],
    *[(s, JSON, json.dumps({ROOT_KEYS[s]: [{}]}).encode()) for s in SIGNALS],
    ("logs", PROTOBUF, logs_request([]).SerializeToString()),
    ("logs", PROTOBUF, REQUESTS["logs"](resource_logs=[ResourceLogs()]).SerializeToString()),
    ("logs", JSON, b'{"resourceLogs": [{"scopeLogs": [{"logRecords": []}]}]}'),
]


@pytest.mark.parametrize(("signal", "encoding", "body"), EMPTY_REQUESTS)
def test_an_empty_request_succeeds_with_an_unset_partial_success_and_stores_nothing(
    srv: Listener, signal: str, encoding: str, body: bytes
) -> None:
    before = table_counts(srv)
    resp = post(srv, f"/v1/{signal}", body, encoding)
    assert resp.status == 200, resp.body
    assert resp.media_type == encoding
    reply = decode_response(signal, encoding, resp.body)
    assert not reply.HasField("partial_success")
    assert table_counts(srv) == before


def test_the_reply_uses_the_request_media_type_without_its_parameters(srv: Listener) -> None:
    resp = post(srv, "/v1/logs", b"{}", "application/json; charset=utf-8")
    assert (resp.status, resp.media_type) == (200, JSON)


# T4 ---------------------------------------------------------------------------------------------

def _capture(agent: str, scenario: str, name: str) -> bytes:
    return (FIXTURES / agent / scenario / "otlp" / name).read_bytes()


def _records_in(signal: str, message: Any) -> int:
    if signal == "logs":
        return sum(len(s.log_records) for r in message.resource_logs for s in r.scope_logs)
    if signal == "traces":
        return sum(len(s.spans) for r in message.resource_spans for s in r.scope_spans)
    return sum(
        len(getattr(m, m.WhichOneof("data")).data_points)
        for r in message.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
        if m.WhichOneof("data")
    )


def _parse(signal: str, body: bytes) -> Any | None:
    """The reference decoding (the protobuf runtime itself), or None if it is not valid protobuf."""
    message = REQUESTS[signal]()
    try:
        message.ParseFromString(body)
    except Exception:  # noqa: BLE001 - any failure means "not a valid request"
        return None
    return message


# Two Claude Code log captures back to back: protobuf concatenation appends the
# repeated top-level field, so this body holds two ResourceLogs, and cutting it
# exactly between them leaves a valid request with the first capture's records.
_TWO_LOG_CAPTURES = _capture("claude-code", "cumulative_run1_http_protobuf", "0009_http_logs.pb") + _capture(
    "claude-code", "cumulative_run1_http_protobuf", "0007_http_logs.pb"
)
TRUNCATION_CASES = [
    ("logs", _TWO_LOG_CAPTURES, 1),
    ("metrics", _capture("claude-code", "cumulative_run1_http_protobuf", "0010_http_metrics.pb"), 7),
    ("traces", _capture("goose", "http_protobuf_default", "0002_http_traces.pb"), 23),
]


@pytest.mark.parametrize(("signal", "body", "stride"), TRUNCATION_CASES, ids=[s for s, _, _ in TRUNCATION_CASES])
def test_a_truncated_capture_is_refused_or_stores_exactly_its_decodable_prefix(
    srv: Listener, signal: str, body: bytes, stride: int
) -> None:
    client = rawhttp.KeepAlive(srv.http_port)
    table = ROW_TABLES[signal]
    base_rows = srv.count(table)
    expected_counts = table_counts(srv)
    prefixes_with_records = 0
    try:
        for cut in range(0, len(body), stride):
            prefix = _parse(signal, body[:cut])
            resp = client.post(f"/v1/{signal}", body[:cut], PROTOBUF)
            if prefix is None:
                assert_refused(resp, 400, PROTOBUF)
                continue
            assert resp.status == 200, f"offset {cut}: {resp.status} {resp.body[:200]!r}"
            records = _records_in(signal, prefix)
            if records:
                prefixes_with_records += 1
                assert srv.count(table) == base_rows + records, f"offset {cut}"
                expected_counts = table_counts(srv)
    finally:
        client.close()
    assert table_counts(srv) == expected_counts, "a refused prefix stored rows"
    if signal == "logs":
        assert prefixes_with_records == 1  # the cut between the two captures (every offset is tried)
    assert_still_serving(srv)


@pytest.fixture(scope="module")
def fuzz_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    # Its own store: mutated captures store records that other tests' captures might repeat.
    listener = start_listener(tmp_path_factory.mktemp("http-fuzz") / "agentwatch.db")
    yield listener
    assert listener.stop() == 0, "".join(listener.stderr_lines)




def _check_arbitrary_body(srv: Listener, client: rawhttp.KeepAlive, signal: str, body: bytes) -> None:
    """400 if the protobuf runtime cannot decode it (nothing stored), else 200."""
    before = table_counts(srv)
    reference = _parse(signal, body)
    resp = client.post(f"/v1/{signal}", body, PROTOBUF)
    if reference is None:
        assert_refused(resp, 400, PROTOBUF)
        assert table_counts(srv) == before
        return
    assert resp.status == 200, f"{resp.status} {resp.body[:300]!r} for {body[:64]!r}"
    reply = decode_response(signal, PROTOBUF, resp.body)
    rejected = _rejected(signal, reply)
    # A record identical to one already stored is not stored twice, so at most this many.
    added = srv.count(ROW_TABLES[signal]) - before[ROW_TABLES[signal]]
    assert 0 <= added + rejected <= _records_in(signal, reference)


def _rejected(signal: str, reply: Any) -> int:
    if not reply.HasField("partial_success"):
        return 0
    field = {"logs": "rejected_log_records", "metrics": "rejected_data_points", "traces": "rejected_spans"}[signal]
    return int(getattr(reply.partial_success, field))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(body=st.binary(min_size=1, max_size=400))
def test_random_bytes_are_refused_with_400_or_decode_as_protobuf(fuzz_srv: Listener, body: bytes) -> None:
    client = rawhttp.KeepAlive(fuzz_srv.http_port)
    try:
        _check_arbitrary_body(fuzz_srv, client, "logs", body)
    finally:
        client.close()


MUTATION_SOURCES = [
    ("logs", _capture("claude-code", "cumulative_run1_http_protobuf", "0004_http_logs.pb")),
    ("traces", _capture("claude-code", "enhanced_beta_traces_http_protobuf", "0009_http_traces.pb")),
    ("metrics", _capture("claude-code", "cumulative_run1_http_protobuf", "0003_http_metrics.pb")),
]


@pytest.mark.parametrize(("signal", "original"), MUTATION_SOURCES, ids=[s for s, _ in MUTATION_SOURCES])
def test_captures_with_random_bytes_changed_never_cause_a_server_error(
    fuzz_srv: Listener, signal: str, original: bytes
) -> None:
    # Changed bytes keep most of the structure, so many mutants still decode and reach
    # normalisation with odd values (wrong wire types, huge lengths, invalid UTF-8).
    rng = random.Random(f"mutate-{signal}")
    client = rawhttp.KeepAlive(fuzz_srv.http_port)
    try:
        for _ in range(150):
            body = bytearray(original)
            for _ in range(rng.randint(1, 4)):
                body[rng.randrange(len(body))] = rng.randrange(256)
            _check_arbitrary_body(fuzz_srv, client, signal, bytes(body))
    finally:
        client.close()
    assert_still_serving(fuzz_srv)


# T5 ---------------------------------------------------------------------------------------------

def _logs_json(record: dict[str, Any]) -> bytes:
    return json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}).encode()


WRONG_TYPES = [
    ("timeUnixNano", _logs_json({"timeUnixNano": "abc"})),
    ("timeUnixNano", _logs_json({"timeUnixNano": 1.5})),
    ("timeUnixNano", _logs_json({"timeUnixNano": True})),
    ("attributes", _logs_json({"attributes": {}})),
    ("intValue", _logs_json({"attributes": [{"key": "n", "value": {"intValue": {}}}]})),
    ("intValue", _logs_json({"attributes": [{"key": "n", "value": {"intValue": "12x"}}]})),
    ("stringValue", _logs_json({"body": {"stringValue": 7}})),
    ("body", _logs_json({"body": "a plain string"})),
    ("severityNumber", _logs_json({"severityNumber": "LOUD"})),
    ("logRecords", b'{"resourceLogs": [{"scopeLogs": [{"logRecords": {}}]}]}'),
    ("resourceLogs", b'{"resourceLogs": {}}'),
    ("resourceLogs", b'{"resourceLogs": "x"}'),
]


@pytest.mark.parametrize(("field", "body"), WRONG_TYPES, ids=[f"{f}-{i}" for i, (f, _) in enumerate(WRONG_TYPES)])
def test_json_with_a_wrong_type_is_refused_naming_the_field(srv: Listener, field: str, body: bytes) -> None:
    before = table_counts(srv)
    assert_refused(post(srv, "/v1/logs", body, JSON), 400, JSON, field)
    assert table_counts(srv) == before


NOT_JSON = [
    ("utf-8", b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "\xff\xfe"}}]}]}]}'),
    ("utf-8", b"\xc3\x28{}"),
    ("JSON", b"not json"),
    ("JSON", b'{"resourceLogs": [}'),
    ("JSON", b"   "),
    ("JSON", b'{"resourceLogs": [], }'),
    ("JSON", b'{"resourceLogs": NaN}'),
    ("object", b"[]"),
    ("object", b'"resourceLogs"'),
    ("object", b"null"),
]


@pytest.mark.parametrize(("mention", "body"), NOT_JSON, ids=[f"{m}-{i}" for i, (m, _) in enumerate(NOT_JSON)])
def test_a_body_that_is_not_json_text_is_refused(srv: Listener, mention: str, body: bytes) -> None:
    before = table_counts(srv)
    message = assert_refused(post(srv, "/v1/logs", body, JSON), 400, JSON)
    assert mention.lower() in message.lower()
    assert table_counts(srv) == before


# T6 ---------------------------------------------------------------------------------------------

TRACE_HEX = "5B8EFFF798038103D269B633813FC60C"
SPAN_HEX = "EEE19B7EC3C1B174"


def _span_json(name: str, span: dict[str, Any], keys: tuple[str, str] = ("resourceSpans", "scopeSpans")) -> bytes:
    times = {"startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000"}
    span = {"name": name, **times, **span} if keys[0] == "resourceSpans" else {"name": name, **span}
    return json.dumps({keys[0]: [{keys[1]: [{"spans": [span]}]}]}).encode()


def _stored_span(srv: Listener, name: str) -> tuple[Any, ...]:
    rows = query(srv.db, "SELECT trace_id, span_id, parent_span_id, kind, status_code, start_ns FROM spans WHERE name = ?", (name,))
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize("case", [str.upper, str.lower, lambda s: s[:9].lower() + s[9:].upper()], ids=["upper", "lower", "mixed"])
def test_json_hex_ids_are_stored_as_their_exact_bytes(srv: Listener, case: Any) -> None:
    name = f"hex-{case(TRACE_HEX)}"
    body = _span_json(name, {"traceId": case(TRACE_HEX), "spanId": case(SPAN_HEX), "parentSpanId": case("00f067aa0ba902b7")})
    assert post(srv, "/v1/traces", body, JSON).status == 200
    trace_id, span_id, parent, *_ = _stored_span(srv, name)
    assert trace_id == bytes.fromhex("5b8efff798038103d269b633813fc60c")
    assert span_id == bytes.fromhex("eee19b7ec3c1b174")
    assert parent == bytes.fromhex("00f067aa0ba902b7")


BAD_IDS = [
    ("traceId", {"traceId": "W47/95gDgQPSabYzgT/GDA==", "spanId": SPAN_HEX}),  # base64 of the same 16 bytes
    ("traceId", {"traceId": "W47_95gDgQPSabYzgT_GDAAAAAAAAAAA", "spanId": SPAN_HEX}),  # base64, 32 characters
    ("traceId", {"traceId": TRACE_HEX[:-1], "spanId": SPAN_HEX}),
    ("traceId", {"traceId": TRACE_HEX + "00", "spanId": SPAN_HEX}),
    ("traceId", {"traceId": "zz" + TRACE_HEX[2:], "spanId": SPAN_HEX}),
    ("traceId", {"traceId": " " + TRACE_HEX[1:], "spanId": SPAN_HEX}),
    ("spanId", {"traceId": TRACE_HEX, "spanId": "7uGbfsPBsXQ="}),  # base64 of the span id
    ("spanId", {"traceId": TRACE_HEX, "spanId": SPAN_HEX + "0"}),
    ("parentSpanId", {"traceId": TRACE_HEX, "spanId": SPAN_HEX, "parentSpanId": "ABC"}),
    ("traceId", {"traceId": 12345, "spanId": SPAN_HEX}),
]


@pytest.mark.parametrize(("field", "span"), BAD_IDS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_IDS)])
def test_json_ids_that_are_not_hex_of_the_right_length_are_refused(srv: Listener, field: str, span: dict[str, Any]) -> None:
    before = table_counts(srv)
    assert_refused(post(srv, "/v1/traces", _span_json("bad-id", span), JSON), 400, JSON, field)
    assert table_counts(srv) == before


def test_unknown_json_fields_are_ignored_at_every_level(srv: Listener) -> None:
    body = json.dumps(
        {
            "futureTopLevel": {"x": 1},
            "resourceSpans": [
                {
                    "entityRefs": [{"type": "service"}],
                    "resource": {"attributes": [], "newThing": True},
                    "scopeSpans": [
                        {
                            "scope": {"name": "probe", "unknownScopeField": [1, 2]},
                            "spans": [
                                {
                                    "traceId": TRACE_HEX,
                                    "spanId": "1111111111111111",
                                    "name": "unknown-fields",
                                    "someNewField": {"deeply": {"nested": ["x"]}},
                                    "status": {"code": 1, "extra": "ignored"},
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    ).encode()
    assert post(srv, "/v1/traces", body, JSON).status == 200
    assert _stored_span(srv, "unknown-fields")[4] == 1


def test_snake_case_keys_and_enum_names_are_accepted_as_documented(srv: Listener) -> None:
    # OTLP/JSON only promises lowerCamelCase and integer enums; agentwatch's decoder also
    # takes the proto field names and enum value names, as protobuf and the Collector do.
    span = {
        "trace_id": TRACE_HEX.lower(),
        "span_id": "2222222222222222",
        "parent_span_id": "3333333333333333",
        "start_time_unix_nano": "1700000000000000007",
        "kind": "SPAN_KIND_SERVER",
        "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
    }
    body = _span_json("snake-and-names", span, keys=("resource_spans", "scope_spans"))
    assert post(srv, "/v1/traces", body, JSON).status == 200
    trace_id, span_id, parent, kind, status_code, start_ns = _stored_span(srv, "snake-and-names")
    assert (trace_id, span_id, parent) == (bytes.fromhex(TRACE_HEX), b"\x22" * 8, b"\x33" * 8)
    assert (kind, status_code, start_ns) == (2, 2, 1_700_000_000_000_000_007)


def test_the_same_field_in_both_spellings_is_refused(srv: Listener) -> None:
    span = {"traceId": TRACE_HEX, "spanId": SPAN_HEX}
    body = _span_json("both-spellings", {**span, "start_time_unix_nano": "1"})
    assert_refused(post(srv, "/v1/traces", body, JSON), 400, JSON, "start_time_unix_nano")


def test_an_unknown_enum_name_is_refused(srv: Listener) -> None:
    body = _span_json("bad-enum", {"traceId": TRACE_HEX, "spanId": SPAN_HEX, "kind": "SPAN_KIND_MARTIAN"})
    assert_refused(post(srv, "/v1/traces", body, JSON), 400, JSON, "kind")


@pytest.mark.parametrize(
    ("name", "value", "stored"),
    [
        ("int64-number", 1_700_000_000_000_000_123, 1_700_000_000_000_000_123),
        ("int64-string", "1700000000000000456", 1_700_000_000_000_000_456),
        ("int64-exponent", "17e17", 1_700_000_000_000_000_000),
        ("int64-max", str(2**63 - 1), 2**63 - 1),
    ],
)
def test_int64_fields_accept_numbers_and_decimal_strings(srv: Listener, name: str, value: Any, stored: int) -> None:
    body = _span_json(name, {"traceId": TRACE_HEX, "spanId": "4444444444444444", "startTimeUnixNano": value})
    assert post(srv, "/v1/traces", body, JSON).status == 200
    assert _stored_span(srv, name)[5] == stored


@pytest.mark.parametrize("value", ["-1", "18446744073709551616", "1.5", "1e20", " 1", "0x10"])
def test_fixed64_values_out_of_range_or_malformed_are_refused(srv: Listener, value: str) -> None:
    before = table_counts(srv)
    body = _span_json("bad-fixed64", {"traceId": TRACE_HEX, "spanId": SPAN_HEX, "startTimeUnixNano": value})
    assert_refused(post(srv, "/v1/traces", body, JSON), 400, JSON, "startTimeUnixNano")
    assert table_counts(srv) == before


def _huge_time_logs() -> bytes:
    record = LogRecord(time_unix_nano=2**64 - 1, body=AnyValue(string_value="far future"))
    return logs_request([record]).SerializeToString()


def _huge_time_span_json() -> bytes:
    span = {"traceId": TRACE_HEX, "spanId": "5555555555555555", "startTimeUnixNano": "18446744073709551615"}
    return _span_json("far-future", span)


@pytest.mark.parametrize(
    ("signal", "encoding", "body"),
    [("logs", PROTOBUF, _huge_time_logs()), ("traces", JSON, _huge_time_span_json())],
    ids=["protobuf-log-time", "json-span-start"],
)
def test_a_fixed64_time_beyond_int64_is_stored_or_rejected_never_a_server_error(
    srv: Listener, signal: str, encoding: str, body: bytes
) -> None:
    # 2**64-1 is a valid fixed64 (OTLP times are unsigned); the record is either kept
    # or counted in partial_success (P4), and the request is answered 200.
    before = srv.count(ROW_TABLES[signal])
    resp = post(srv, f"/v1/{signal}", body, encoding)
    assert resp.status == 200, resp.body
    rejected = _rejected(signal, decode_response(signal, encoding, resp.body))
    assert srv.count(ROW_TABLES[signal]) - before + rejected == 1


def test_int_values_in_attributes_keep_their_exact_value_as_number_or_string(srv: Listener) -> None:
    record = {
        "timeUnixNano": "1700000000000000999",
        "body": {"stringValue": "int-values"},
        "attributes": [
            {"key": "as_number", "value": {"intValue": 9007199254740993}},
            {"key": "as_string", "value": {"intValue": "-9223372036854775808"}},
        ],
    }
    assert post(srv, "/v1/logs", _logs_json(record), JSON).status == 200
    [(attributes,)] = query(srv.db, "SELECT attributes FROM log_records WHERE time_unix_nano = 1700000000000000999")
    assert json.loads(attributes) == {"as_number": 9007199254740993, "as_string": -9223372036854775808}


# T7 ---------------------------------------------------------------------------------------------

def test_protobuf_any_value_nested_5000_deep_is_refused_not_crashed(srv: Listener) -> None:
    body = logs_body_with_log_body(nested_any_value(5000))
    assert _parse("logs", body) is None  # the reference runtime refuses it too (depth limit)
    before = table_counts(srv)
    assert_refused(post(srv, "/v1/logs", body), 400, PROTOBUF)
    assert table_counts(srv) == before
    assert_still_serving(srv)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"resourceLogs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"{" + b'"a":{' * 50_000 + b"}" * 50_001,
        # well-formed OTLP shape, but an AnyValue nested 5,000 deep
        b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":'
        + b'{"arrayValue":{"values":[' * 5000
        + b'{"stringValue":"x"}'
        + b"]}}" * 5000
        + b"}]}]}]}",
        # shallow enough for json.loads, deeper than a message may nest (100 levels)
        b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":'
        + b'{"kvlistValue":{"values":[{"key":"k","value":' * 60
        + b'{"stringValue":"x"}'
        + b"}]}}" * 60
        + b"}]}]}]}",
    ],
    ids=["brackets", "brackets-in-field", "objects", "any-value-5000", "any-value-60"],
)
def test_json_nested_far_too_deep_is_refused_not_crashed(srv: Listener, body: bytes) -> None:
    before = table_counts(srv)
    assert_refused(post(srv, "/v1/logs", body, JSON), 400, JSON)
    assert table_counts(srv) == before
    assert_still_serving(srv)


def test_nesting_within_the_protobuf_depth_limit_is_stored(srv: Listener) -> None:
    body = logs_body_with_log_body(nested_any_value(40))
    assert _parse("logs", body) is not None
    before = srv.count("log_records")
    assert post(srv, "/v1/logs", body).status == 200
    assert srv.count("log_records") == before + 1


# T13 --------------------------------------------------------------------------------------------

def _bad_crc(data: bytes) -> bytes:
    crc, size = struct.unpack("<II", data[-8:])
    return data[:-8] + struct.pack("<II", crc ^ 1, size)


def _bad_length(data: bytes) -> bytes:
    crc, size = struct.unpack("<II", data[-8:])
    return data[:-8] + struct.pack("<II", crc, size + 1)


_PLAIN = simple_logs(3, tag="gzip-refused")
_GZ = gzip.compress(_PLAIN)
CORRUPT_GZIP = [
    ("bad-crc", _bad_crc(_GZ)),
    ("bad-length", _bad_length(_GZ)),
    ("truncated-trailer", _GZ[:-4]),
    ("truncated-deflate", _GZ[: len(_GZ) // 2]),
    ("header-only", _GZ[:10]),
    ("plain-body", _PLAIN),
    ("empty-body", b""),
    ("trailing-garbage", _GZ + b"garbage"),
    ("deflate-not-gzip", _GZ[10:-8]),
]


@pytest.mark.parametrize(("name", "body"), CORRUPT_GZIP, ids=[n for n, _ in CORRUPT_GZIP])
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_corrupt_gzip_is_refused_with_400(srv: Listener, name: str, body: bytes, chunked: bool) -> None:
    before = table_counts(srv)
    resp = post(srv, "/v1/logs", body, extra=[("Content-Encoding", "gzip")], use_chunked=chunked)
    assert_refused(resp, 400, PROTOBUF, "gzip")
    assert table_counts(srv) == before


@pytest.mark.parametrize("coding", ["br", "zstd", "deflate", "snappy", "x-gzip", "compress", "gzip, br"])
def test_other_content_encodings_are_refused_with_415(srv: Listener, coding: str) -> None:
    before = table_counts(srv)
    resp = post(srv, "/v1/logs", simple_logs(1, tag=f"coding {coding}"), extra=[("Content-Encoding", coding)])
    assert_refused(resp, 415, PROTOBUF, "gzip")
    assert table_counts(srv) == before


@pytest.mark.parametrize(("coding", "encoding"), [("gzip", PROTOBUF), ("GZIP", PROTOBUF), ("gzip", JSON)])
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_valid_gzip_is_inflated_and_stored(srv: Listener, coding: str, encoding: str, chunked: bool) -> None:
    tag = f"gzip {coding} {encoding} {chunked}"
    plain = simple_logs(4, tag) if encoding == PROTOBUF else simple_logs_json(4, tag)
    before = srv.count("log_records")
    resp = post(srv, "/v1/logs", gzip.compress(plain), encoding, extra=[("Content-Encoding", coding)], use_chunked=chunked)
    assert resp.status == 200, resp.body
    assert srv.count("log_records") == before + 4
    expected = [json.dumps(f"{tag} {i}") for i in range(4)]
    rows = query(srv.db, f"SELECT body FROM log_records WHERE body IN ({','.join('?' * 4)})", tuple(expected))
    assert sorted(b for (b,) in rows) == sorted(expected)


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_a_multi_member_gzip_body_is_inflated_whole(srv: Listener, chunked: bool) -> None:
    # RFC 1952 §2.2: members one after the other decompress to their concatenation. A
    # protobuf message split in two (3 records, then 2) concatenates to one of 5 records.
    tag = f"multi-member {chunked}"
    first, second = simple_logs(3, tag), simple_logs(2, tag + " b")
    before = srv.count("log_records")
    body = gzip.compress(first) + gzip.compress(second)
    resp = post(srv, "/v1/logs", body, extra=[("Content-Encoding", "gzip")], use_chunked=chunked)
    assert resp.status == 200, resp.body
    assert srv.count("log_records") == before + 3 + 2


def test_identity_content_encoding_is_plain(srv: Listener) -> None:
    before = srv.count("log_records")
    resp = post(srv, "/v1/logs", simple_logs(2, "identity"), extra=[("Content-Encoding", "identity")])
    assert resp.status == 200
    assert srv.count("log_records") == before + 2


# T14 --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
@pytest.mark.parametrize("signal", SIGNALS)
def test_methods_other_than_post_get_405_with_allow_post_and_no_cors(srv: Listener, method: str, signal: str) -> None:
    headers = [("Host", f"localhost:{srv.http_port}"), ("Connection", "close")]
    if method == "OPTIONS":  # a CORS preflight, minus the Origin (which alone earns a 403)
        headers += [("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "content-type")]
    if method in ("PUT", "PATCH"):
        headers += [("Content-Type", PROTOBUF), ("Content-Length", "0")]
    before = table_counts(srv)
    resp = rawhttp.exchange(srv.http_port, rawhttp.head(method, f"/v1/{signal}", headers), method=method)
    assert resp.status == 405
    assert resp.header("Allow") == "POST"
    assert not [h for h in resp.header_names() if h.startswith("access-control-")]
    if method != "HEAD":
        assert decode_status(resp.media_type, resp.body).message
    assert table_counts(srv) == before


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("path", ["/", "/v1/log", "/v1/logs/", "/V1/LOGS", "/v1development/profiles", "/v1/logs/x", "/metrics"])
def test_unknown_paths_get_404(srv: Listener, method: str, path: str) -> None:
    before = table_counts(srv)
    body = simple_logs(1, tag=f"404 {path}") if method == "POST" else b""
    resp = post(srv, path, body) if method == "POST" else rawhttp.exchange(
        srv.http_port, rawhttp.head("GET", path, [("Host", f"127.0.0.1:{srv.http_port}"), ("Connection", "close")]), method="GET"
    )
    assert resp.status == 404
    assert decode_status(resp.media_type, resp.body).message
    assert not [h for h in resp.header_names() if h.startswith("access-control-")]
    assert table_counts(srv) == before


# T15 --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
        None,
        "",
        "application/protobuf",
        "application/jsonp",
    ],
)
def test_a_valid_json_body_with_a_browser_simple_content_type_is_refused_with_415(
    srv: Listener, content_type: str | None
) -> None:
    before = table_counts(srv)
    resp = post(srv, "/v1/logs", simple_logs_json(2, tag=f"csrf {content_type}"), content_type)
    assert_refused(resp, 415, JSON, "application/x-protobuf", "application/json")
    assert table_counts(srv) == before


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"]
)
def test_json_content_type_with_parameters_or_other_case_is_accepted(srv: Listener, content_type: str) -> None:
    before = srv.count("log_records")
    resp = post(srv, "/v1/logs", simple_logs_json(2, tag=f"ok {content_type}"), content_type)
    assert resp.status == 200
    assert resp.media_type == JSON
    assert srv.count("log_records") == before + 2


def test_protobuf_body_labelled_json_is_refused_and_json_labelled_protobuf_too(srv: Listener) -> None:
    before = table_counts(srv)
    assert_refused(post(srv, "/v1/logs", simple_logs(1, "mislabelled"), JSON), 400, JSON)
    assert_refused(post(srv, "/v1/logs", b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{}]}]}]}', PROTOBUF), 400, PROTOBUF)
    assert table_counts(srv) == before
