"""otlp_view: requests → neutral rows, with content elided and limits applied."""

from __future__ import annotations

import json
import math

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from agentwatch.normalise.otlp_view import ViewPolicy, logs_batch, metrics_batch, traces_batch

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
    row = logs_batch(_logs(record), "http", RECEIVED, DROP).logs[0]
    assert json.loads(row.attributes) == {"prompt_length": 14}
    assert json.loads(row.elided or "{}") == {"prompt": 14}  # len("write hello.py") = 14


def test_keep_content_stores_prompt_attributes_as_sent() -> None:
    record = LogRecord(time_unix_nano=5, attributes=[_kv("prompt", "write hello.py")])
    row = logs_batch(_logs(record), "http", RECEIVED, KEEP).logs[0]
    assert json.loads(row.attributes) == {"prompt": "write hello.py"}
    assert row.elided is None


def test_resource_command_args_are_elided() -> None:
    # Gemini CLI's process.command_args holds the -p prompt.
    args = KeyValue(key="process.command_args")
    for word in ["gemini", "-p", "secret prompt"]:
        args.value.array_value.values.add(string_value=word)
    batch = logs_batch(_logs(LogRecord(time_unix_nano=1), resource=[args]), "http", RECEIVED, DROP)
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
    row = logs_batch(_logs(record), "http", RECEIVED, DROP).logs[0]
    assert json.loads(row.body or "null") == {"elided_length": 18}  # len("my secret question")


def test_ordinary_bodies_are_kept() -> None:
    record = LogRecord(time_unix_nano=1, body=AnyValue(string_value="claude_code.api_request"))
    row = logs_batch(_logs(record), "http", RECEIVED, DROP).logs[0]
    assert row.body == '"claude_code.api_request"'


def test_a_record_without_time_takes_its_observed_time_then_the_receive_time() -> None:
    codex_like = LogRecord(time_unix_nano=0, observed_time_unix_nano=1_700_000_000_000_000_000)
    bare = LogRecord(body=AnyValue(string_value="x"))
    rows = logs_batch(_logs(codex_like, bare), "http", RECEIVED, DROP).logs
    assert [r.time_ns for r in rows] == [1_700_000_000_000_000_000, RECEIVED]
    assert [r.time_unix_nano for r in rows] == [0, 0]


def test_attributes_over_the_limit_are_counted_as_dropped() -> None:
    record = LogRecord(time_unix_nano=1, attributes=[_kv(f"k{i}", i) for i in range(200)], dropped_attributes_count=3)
    row = logs_batch(_logs(record), "http", RECEIVED, DROP).logs[0]
    assert len(json.loads(row.attributes)) == 128
    assert row.dropped_attributes == 3 + (200 - 128)  # already dropped by the sender + ours


def test_long_values_are_truncated_and_their_length_kept() -> None:
    record = LogRecord(time_unix_nano=1, attributes=[_kv("stack", "x" * 10_000)])
    row = logs_batch(_logs(record), "http", RECEIVED, DROP).logs[0]
    assert len(json.loads(row.attributes)["stack"]) == 8192
    assert json.loads(row.elided or "{}") == {"stack": 10_000}


def test_the_same_record_sent_twice_has_the_same_dedup_key_and_another_record_does_not() -> None:
    a = LogRecord(time_unix_nano=1, attributes=[_kv("event.name", "x")])
    b = LogRecord(time_unix_nano=2, attributes=[_kv("event.name", "x")])
    first = logs_batch(_logs(a, b), "http", RECEIVED, DROP).logs
    again = logs_batch(_logs(a), "grpc", RECEIVED + 99, DROP).logs
    assert first[0].dedup_key == again[0].dedup_key
    assert first[0].dedup_key != first[1].dedup_key
    # The same record from another resource is another record.
    other = logs_batch(_logs(a, service="codex_exec"), "http", RECEIVED, DROP).logs
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
        batch = logs_batch(_logs(LogRecord(time_unix_nano=1), service=service), "http", RECEIVED, DROP)
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
    rows = metrics_batch(_metrics(m), "http", RECEIVED, DROP).points
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
    rows = [metrics_batch(_metrics(m), "http", RECEIVED, DROP).points[0] for m in (h, e, s, g)]
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
    row = traces_batch(req, "http", RECEIVED, DROP).spans[0]
    assert (row.trace_id, row.span_id, row.kind, row.status_code, row.status_message) == (
        bytes(range(16)), bytes(range(8)), 3, 2, "boom"
    )
    assert json.loads(row.events or "[]") == [
        {"name": "gen_ai.content.prompt", "time_ns": 7, "attributes": {}, "elided": {"gen_ai.prompt": 5}}
    ]
