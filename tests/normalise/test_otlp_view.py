"""otlp_view: requests → neutral rows, with content elided and limits applied."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from agentwatch.normalise import otlp_view
from agentwatch.normalise.otlp_view import ViewPolicy, batch_of
from agentwatch.records import Signal

RECEIVED = 1_800_000_000_000_000_000
DROP = ViewPolicy(keep_content=False)
KEEP = ViewPolicy(keep_content=True)


def _kv(key: str, value: object) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    else:
        kv.value.string_value = str(value)
    return kv


def _logs(*records: LogRecord, service: str = "claude-code", resource: list[KeyValue] | None = None) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend([_kv("service.name", service), *(resource or [])])
    sl = rl.scope_logs.add()
    sl.scope.name = "com.anthropic.claude_code.events"
    sl.log_records.extend(records)
    return req


def test_prompt_attributes_are_replaced_by_their_length() -> None:
    record = LogRecord(time_unix_nano=5, attributes=[_kv("prompt", "write hello.py"), _kv("prompt_length", 14)])
    row = batch_of(Signal.LOGS, _logs(record), "http", RECEIVED, DROP).logs[0]
    assert json.loads(row.attributes) == {"prompt_length": 14}
    assert json.loads(row.elided or "{}") == {"prompt": 14}  # len("write hello.py") = 14


def test_keep_content_stores_prompt_attributes_as_sent() -> None:
    record = LogRecord(time_unix_nano=5, attributes=[_kv("prompt", "write hello.py")])
    row = batch_of(Signal.LOGS, _logs(record), "http", RECEIVED, KEEP).logs[0]
    assert json.loads(row.attributes) == {"prompt": "write hello.py"}
    assert row.elided is None


def test_resource_command_args_are_elided() -> None:
    # Gemini CLI's process.command_args holds the -p prompt.
    args = KeyValue(key="process.command_args")
    for word in ["gemini", "-p", "secret prompt"]:
        args.value.array_value.values.add(string_value=word)
    batch = batch_of(Signal.LOGS, _logs(LogRecord(time_unix_nano=1), resource=[args]), "http", RECEIVED, DROP)
    resource = batch.resources[0]
    assert "secret prompt" not in resource.attributes
    # The length of a non-string value is that of its JSON text: ["gemini","-p","secret prompt"] = 31
    assert json.loads(resource.elided or "{}") == {"process.command_args": 31}


def test_content_event_bodies_are_elided() -> None:
    record = LogRecord(
        time_unix_nano=1,
        body=AnyValue(string_value="my secret question"),
        attributes=[_kv("event.name", "gen_ai.user.message")],
    )
    row = batch_of(Signal.LOGS, _logs(record), "http", RECEIVED, DROP).logs[0]
    assert json.loads(row.body or "null") == {"elided_length": 18}  # len("my secret question")


def test_ordinary_bodies_are_kept() -> None:
    record = LogRecord(time_unix_nano=1, body=AnyValue(string_value="claude_code.api_request"))
    row = batch_of(Signal.LOGS, _logs(record), "http", RECEIVED, DROP).logs[0]
    assert row.body == '"claude_code.api_request"'


def test_a_record_without_time_takes_its_observed_time_then_the_receive_time() -> None:
    codex_like = LogRecord(time_unix_nano=0, observed_time_unix_nano=1_700_000_000_000_000_000)
    bare = LogRecord(body=AnyValue(string_value="x"))
    rows = batch_of(Signal.LOGS, _logs(codex_like, bare), "http", RECEIVED, DROP).logs
    assert [r.time_ns for r in rows] == [1_700_000_000_000_000_000, RECEIVED]
    assert [r.time_unix_nano for r in rows] == [0, 0]


def test_attributes_over_the_limit_are_counted_as_dropped() -> None:
    record = LogRecord(time_unix_nano=1, attributes=[_kv(f"k{i}", i) for i in range(200)], dropped_attributes_count=3)
    row = batch_of(Signal.LOGS, _logs(record), "http", RECEIVED, DROP).logs[0]
    assert len(json.loads(row.attributes)) == 128
    assert row.dropped_attributes == 3 + (200 - 128)  # already dropped by the sender + ours


def test_long_values_are_truncated_and_their_length_kept() -> None:
    record = LogRecord(time_unix_nano=1, attributes=[_kv("stack", "x" * 10_000)])
    row = batch_of(Signal.LOGS, _logs(record), "http", RECEIVED, DROP).logs[0]
    assert len(json.loads(row.attributes)["stack"]) == 8192
    assert json.loads(row.elided or "{}") == {"stack": 10_000}


def test_the_same_record_sent_twice_has_the_same_dedup_key_and_another_record_does_not() -> None:
    a = LogRecord(time_unix_nano=1, attributes=[_kv("event.name", "x")])
    b = LogRecord(time_unix_nano=2, attributes=[_kv("event.name", "x")])
    first = batch_of(Signal.LOGS, _logs(a, b), "http", RECEIVED, DROP).logs
    again = batch_of(Signal.LOGS, _logs(a), "grpc", RECEIVED + 99, DROP).logs
    assert first[0].dedup_key == again[0].dedup_key
    assert first[0].dedup_key != first[1].dedup_key
    # The same record from another resource is another record.
    other = batch_of(Signal.LOGS, _logs(a, service="codex_exec"), "http", RECEIVED, DROP).logs
    assert other[0].dedup_key != first[0].dedup_key


def test_agent_names_are_normalised_from_service_name() -> None:
    names = {
        "claude-code": "claude-code",
        "codex_exec": "codex",
        "gemini-cli": "gemini-cli",
        "github-copilot": "copilot-cli",
        "qwen-code": "qwen-code",
        "goose": "goose",
    }
    for service, agent in names.items():
        batch = batch_of(Signal.LOGS, _logs(LogRecord(time_unix_nano=1), service=service), "http", RECEIVED, DROP)
        assert batch.resources[0].agent == agent


def _metrics(metric: Metric) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.append(_kv("service.name", "gemini-cli"))
    rm.scope_metrics.add().metrics.append(metric)
    return req


def test_sum_points_keep_temporality_monotonicity_and_integer_values() -> None:
    m = Metric(name="gemini_cli.token.usage", unit="1")
    m.sum.aggregation_temporality = 2
    m.sum.is_monotonic = True
    m.sum.data_points.add(start_time_unix_nano=10, time_unix_nano=20, as_int=4567, attributes=[_kv("type", "input")])
    m.sum.data_points.add(start_time_unix_nano=10, time_unix_nano=20, as_double=0.25)
    rows = batch_of(Signal.METRICS, _metrics(m), "http", RECEIVED, DROP).points
    assert [(r.kind, r.temporality, r.monotonic, r.value) for r in rows] == [
        ("sum", 2, True, 4567),
        ("sum", 2, True, 0.25),
    ]
    assert isinstance(rows[0].value, int)
    assert json.loads(rows[0].attributes) == {"type": "input"}


def test_histogram_exponential_histogram_summary_and_gauge_points() -> None:
    h = Metric(name="h")
    h.histogram.aggregation_temporality = 1
    h.histogram.data_points.add(count=3, sum=6.0, min=1.0, max=3.0, explicit_bounds=[2.0], bucket_counts=[1, 2])
    e = Metric(name="e")
    e.exponential_histogram.aggregation_temporality = 2
    p = e.exponential_histogram.data_points.add(count=2, scale=3, zero_count=1)
    p.positive.offset = 4
    p.positive.bucket_counts.extend([1])
    s = Metric(name="s")
    s.summary.data_points.add(count=4, sum=10.0).quantile_values.add(quantile=0.5, value=2.5)
    g = Metric(name="g")
    g.gauge.data_points.add(as_double=math.nan)
    rows = [batch_of(Signal.METRICS, _metrics(m), "http", RECEIVED, DROP).points[0] for m in (h, e, s, g)]
    assert (rows[0].kind, rows[0].sample_count, rows[0].sum, rows[0].min, rows[0].max) == ("histogram", 3, 6.0, 1.0, 3.0)
    assert json.loads(rows[0].detail or "{}") == {"bounds": [2.0], "counts": [1, 2]}
    assert rows[1].kind == "exponential_histogram"
    assert json.loads(rows[1].detail or "{}")["positive"] == {"offset": 4, "counts": [1]}
    assert (rows[2].kind, rows[2].sample_count, rows[2].sum) == ("summary", 4, 10.0)
    assert json.loads(rows[2].detail or "{}") == {"quantiles": [[0.5, 2.5]]}
    # A NaN gauge has no usable value: unknown, not 0.
    assert (rows[3].kind, rows[3].value, rows[3].temporality, rows[3].monotonic) == ("gauge", None, 0, None)


def test_spans_keep_ids_status_events_and_elide_content_in_events() -> None:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(_kv("service.name", "goose"))
    span = rs.scope_spans.add().spans.add(
        trace_id=bytes(range(16)), span_id=bytes(range(8)), name="chat gpt-4.1", kind=3
    )
    span.status.code = 2
    span.status.message = "boom"
    span.attributes.append(_kv("gen_ai.usage.input_tokens", 3210))
    event = span.events.add(name="gen_ai.content.prompt", time_unix_nano=7)
    event.attributes.append(_kv("gen_ai.prompt", "hello"))
    row = batch_of(Signal.TRACES, req, "http", RECEIVED, DROP).spans[0]
    assert (row.trace_id, row.span_id, row.kind, row.status_code, row.status_message) == (
        bytes(range(16)), bytes(range(8)), 3, 2, "boom"
    )
    assert json.loads(row.events or "[]") == [
        {"name": "gen_ai.content.prompt", "time_ns": 7, "attributes": {}, "elided": {"gen_ai.prompt": 5}}
    ]


# --- structured values: content and size caps at every depth ---------------------------------


def _any(value: object) -> AnyValue:
    """A Python value as the AnyValue a sender would build: dict → kvlist, list → array."""
    if isinstance(value, dict):
        out = AnyValue()
        for key, item in value.items():
            out.kvlist_value.values.add(key=key).value.CopyFrom(_any(item))
        return out
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(_any(item) for item in value)
        return out
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    return _kv("_", value).value


def _row_with(value: object, policy: ViewPolicy = DROP, key: str = "event.data") -> tuple[dict, dict]:
    record = LogRecord(time_unix_nano=1, attributes=[KeyValue(key=key, value=_any(value))])
    row = batch_of(Signal.LOGS, _logs(record), "http", RECEIVED, policy).logs[0]
    return json.loads(row.attributes), json.loads(row.elided or "{}")


def test_a_content_key_inside_a_kvlist_keeps_its_key_and_only_the_length() -> None:
    values, elided = _row_with({"prompt": "secret", "tool": "Bash"})
    assert values == {"event.data": {"prompt": {"elided_length": 6}, "tool": "Bash"}}  # len("secret")
    # The attribute's length as sent, as JSON: {"prompt":"secret","tool":"Bash"} is 33 characters.
    assert elided == {"event.data": 33}


def test_content_keys_are_found_in_kvlists_inside_arrays_at_any_depth() -> None:
    sent = {"calls": [{"name": "Bash", "arguments": {"command": "rm -rf /tmp/x"}}]}
    values, elided = _row_with(sent)
    # {"command":"rm -rf /tmp/x"} is 27 characters.
    assert values == {"event.data": {"calls": [{"name": "Bash", "arguments": {"elided_length": 27}}]}}
    assert "rm -rf" not in json.dumps(values)
    assert elided == {"event.data": len(json.dumps(sent, separators=(",", ":")))}


def test_keep_content_keeps_nested_content_as_sent() -> None:
    values, elided = _row_with({"prompt": "secret", "tool": "Bash"}, KEEP)
    assert values == {"event.data": {"prompt": "secret", "tool": "Bash"}}
    assert elided == {}


def test_long_strings_inside_arrays_are_cut_and_the_attribute_length_kept() -> None:
    values, elided = _row_with(["x" * 10_000, "ok"], KEEP, key="stack")  # size caps apply regardless
    assert values == {"stack": ["x" * 8192, "ok"]}
    assert elided == {"stack": 10_009}  # ["…10,000…","ok"]: 1 + 10,002 + 1 + 4 + 1


def test_bytes_are_cut_to_what_encodes_to_the_value_cap() -> None:
    values, elided = _row_with(b"\x00" * 10_000, key="blob")
    assert values == {"blob": {"bytes": "A" * 8192}}  # 6,144 zero bytes in base64
    # {"bytes":"…"} as sent: base64 of 10,000 bytes is 3,334 × 4 = 13,336 characters, + 12.
    assert elided == {"blob": 13_348}


def test_a_structured_value_over_64_kib_is_replaced_by_its_length() -> None:
    values, elided = _row_with(["y" * 8000] * 10, key="list")
    # 10 strings of 8,000 (+2 quotes each), 9 commas, 2 brackets = 80,031 characters > 65,536.
    assert values == {"list": {"truncated_length": 80_031}}
    assert elided == {"list": 80_031}


def test_a_structured_value_just_under_64_kib_is_kept_whole() -> None:
    sent = ["z" * 8000] * 8  # 8 × 8,002 + 7 + 2 = 64,025 characters ≤ 65,536
    values, elided = _row_with(sent, key="list")
    assert values == {"list": sent}
    assert elided == {}


def test_a_huge_array_of_small_items_is_replaced_without_being_built_whole() -> None:
    values, elided = _row_with(list(range(100_000)), key="ids")
    # "0".."9": 10 × 1, "10".."99": 90 × 2, 900 × 3, 9,000 × 4, 90,000 × 5 = 488,890 digits,
    # + 99,999 commas + 2 brackets = 588,891 characters.
    assert values == {"ids": {"truncated_length": 588_891}}
    assert elided == {"ids": 588_891}


def _body_row(body: AnyValue, policy: ViewPolicy = DROP, event: str = "tool_result") -> tuple[object, dict]:
    record = LogRecord(time_unix_nano=1, body=body, attributes=[_kv("event.name", event)])
    row = batch_of(Signal.LOGS, _logs(record), "http", RECEIVED, policy).logs[0]
    return json.loads(row.body or "null"), json.loads(row.elided or "{}")


def test_a_kvlist_body_has_its_content_keys_elided() -> None:
    body, elided = _body_row(_any({"output": "file contents", "exit_code": 0}))
    assert body == {"output": {"elided_length": 13}, "exit_code": 0}  # len("file contents")
    assert elided == {"@body": 40}  # {"output":"file contents","exit_code":0}: 1+8+1+15+1+11+1+1+1


def test_a_long_string_body_is_cut_and_its_length_kept() -> None:
    body, elided = _body_row(AnyValue(string_value="b" * 10_000))
    assert body == "b" * 8192
    assert elided == {"@body": 10_000}


def test_a_structured_body_over_64_kib_is_replaced_by_its_length() -> None:
    body, elided = _body_row(_any(["y" * 8000] * 10), KEEP)
    assert body == {"truncated_length": 80_031}  # as in the attribute case above
    assert elided == {"@body": 80_031}


def test_an_elided_content_event_body_is_listed_in_elided_too() -> None:
    body, elided = _body_row(AnyValue(string_value="my secret question"), event="gen_ai.user.message")
    assert body == {"elided_length": 18}
    assert elided == {"@body": 18}


def test_span_events_and_links_elide_nested_content_in_place() -> None:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(_kv("service.name", "opencode"))
    span = rs.scope_spans.add().spans.add(trace_id=bytes(range(16)), span_id=bytes(range(8)), name="tool")
    span.events.add(name="call", time_unix_nano=7).attributes.add(key="tool", value=_any({"arguments": "ls ~"}))
    span.links.add(trace_id=bytes(16), span_id=bytes(8)).attributes.add(key="ctx", value=_any({"prompt": "hi"}))
    row = batch_of(Signal.TRACES, req, "http", RECEIVED, DROP).spans[0]
    events = json.loads(row.events or "[]")
    assert events[0]["attributes"] == {"tool": {"arguments": {"elided_length": 4}}}  # len("ls ~")
    assert events[0]["elided"] == {"tool": 20}  # {"arguments":"ls ~"}
    assert json.loads(row.links or "[]")[0]["attributes"] == {"ctx": {"prompt": {"elided_length": 2}}}


def test_service_name_is_stored_under_the_value_cap() -> None:
    batch = batch_of(Signal.LOGS, _logs(LogRecord(time_unix_nano=1), service="s" * 100_000), "http", RECEIVED, DROP)
    resource = batch.resources[0]
    assert resource.service_name == "s" * 8192
    assert resource.agent == "s" * 64


# --- metric detail is always valid JSON ------------------------------------------------------


def _json_valid(text: str | None) -> bool:
    conn = sqlite3.connect(":memory:")
    try:
        return conn.execute("SELECT json_valid(?)", (text,)).fetchone()[0] == 1
    finally:
        conn.close()


def test_non_finite_bounds_thresholds_and_quantiles_are_stored_as_valid_json() -> None:
    h = Metric(name="h")
    h.histogram.data_points.add(count=1, explicit_bounds=[1.0, math.inf], bucket_counts=[0, 1, 0])
    e = Metric(name="e")
    e.exponential_histogram.data_points.add(count=1, zero_threshold=math.nan)
    s = Metric(name="s")
    q = s.summary.data_points.add(count=1)
    q.quantile_values.add(quantile=math.nan, value=-math.inf)
    rows = [batch_of(Signal.METRICS, _metrics(m), "http", RECEIVED, DROP).points[0] for m in (h, e, s)]
    assert [_json_valid(r.detail) for r in rows] == [True, True, True]
    assert json.loads(rows[0].detail or "{}") == {"bounds": [1.0, "inf"], "counts": [0, 1, 0]}
    assert json.loads(rows[1].detail or "{}")["zero_threshold"] == "nan"
    assert json.loads(rows[2].detail or "{}") == {"quantiles": [["nan", "-inf"]]}


def test_non_finite_doubles_in_attributes_and_exemplars_are_valid_json() -> None:
    g = Metric(name="g")
    point = g.gauge.data_points.add(as_double=1.0, attributes=[_kv("ratio", math.inf)])
    point.attributes.add(key="list", value=_any([math.nan, 2.5]))
    point.exemplars.add(as_double=-math.inf)
    row = batch_of(Signal.METRICS, _metrics(g), "http", RECEIVED, DROP).points[0]
    assert _json_valid(row.attributes) and _json_valid(row.detail)
    assert json.loads(row.attributes) == {"ratio": "inf", "list": ["nan", 2.5]}


def test_the_row_encoder_refuses_nan_rather_than_write_invalid_json() -> None:
    # Every float is meant to pass through _float; one that slips past must fail loudly.
    with pytest.raises(ValueError):
        otlp_view._dumps({"x": math.nan})
