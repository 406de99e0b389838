"""The generic OpenTelemetry GenAI adapter: captured scenarios, then an unknown agent built with the SDK.

Hand arithmetic from tests/fixtures/README.md. Each run is one turn: 3 model calls
(a write-file tool call, a shell tool call, the final answer) and 2 tool calls.

GenAI test app, Anthropic (genai-semconv-python/genai_anthropic_default_http_protobuf).
Stub per call: input 1234, output 87, cache_read 4321, cache_creation 567 (additive). The
GenAI Anthropic instrumentation already reports input with the cache inside:
  requests     3   (3 `chat` spans; each one's `anthropic.messages.create` child, same
                    gen_ai.response.id and usage, merges into it)
  input        3 × (1234 + 4321 + 567) = 3 × 6122 = 18366
  output       3 × 87 = 261
  cache_read   3 × 4321 = 12963
  cache_write  3 × 567 = 1701
  reasoning    —   (none reported)
  cost         —   (the conventions carry no cost)
  tool_calls   2   (execute_tool write_file, run_shell_command); no decisions: —
  lines, commits, PRs —
  The app's invoke_agent span (3702 = 3 × 1234, the SDK's raw input) and the
  gen_ai.client.token.usage metric (18366 / 261) repeat the calls: not added.

GenAI test app, OpenAI (genai-semconv-python/openai_v2_default_http_protobuf).
Stub per call (Chat Completions): prompt 3210 of which cached 2048, completion 77:
  requests 3, input 3 × 3210 = 9630, output 3 × 77 = 231
  cache_read   —   differs from the stub (3 × 2048 = 6144): openai-v2 2.4b0 with util-genai
                    1.1b0 puts no cache attribute on its chat spans, so the payload carries none
  cache_write, reasoning, cost —; tool_calls 2
  sessions     1   the conversation id is only on the invoke_agent span (util-genai 1.1b0 does
                    not propagate it): it reaches the calls and tools through their trace
  The invoke_agent span (9630 / 231) and the token-usage points recorded for invoke_agent
  (9630 / 231 again, beside the chat points) are roll-ups: not added.

goose (goose/http_protobuf_default), served by this adapter as agent "goose".
Stub: 4 Chat Completions calls (session naming + 3), prompt 3210 of which cached 2048, completion 77:
  requests     3   differs from the stub's 4: the session-naming call is in no telemetry
  input 3 × 3210 = 9630, output 3 × 77 = 231, cache_read 3 × 2048 = 6144
  cache_write, reasoning, cost —; tool_calls 2 (dispatch_tool_call ×2)
  The two invoke_agent spans (`reply`, `reply_stream`, 9630 / 231 each) are not added;
  goose's own metrics (goose.tool_calls, goose.session_tokens = the last call's 3287) are not read.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Callable, Iterator

import pytest
from opentelemetry import context as otel_context
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from support.accounting import figures, replayed, summary_json
from support.listener import Listener, start_listener

NO_OUTPUT = {"lines_added": None, "lines_removed": None, "commits": None, "pull_requests": None}
NO_DECISIONS = {"tool_accepted": None, "tool_rejected": None}

ANTHROPIC_APP = {
    "sessions": 1,
    "requests": 3,
    "errors": 0,
    "input_tokens": 18366,
    "output_tokens": 261,
    "cache_read_tokens": 12963,
    "cache_write_tokens": 1701,
    "reasoning_tokens": None,
    "cost_usd": None,
    **NO_OUTPUT,
    "tool_calls": 2,
    **NO_DECISIONS,
}

OPENAI_V2_APP = {
    "sessions": 1,
    "requests": 3,
    "errors": 0,
    "input_tokens": 9630,
    "output_tokens": 231,
    "cache_read_tokens": None,  # the stub cached 6144; these spans report no cache
    "cache_write_tokens": None,
    "reasoning_tokens": None,
    "cost_usd": None,
    **NO_OUTPUT,
    "tool_calls": 2,
    **NO_DECISIONS,
}

GOOSE = {
    "sessions": 1,
    "requests": 3,  # the stub saw 4: the session-naming call is not in telemetry
    "errors": 0,
    "input_tokens": 9630,
    "output_tokens": 231,
    "cache_read_tokens": 6144,
    "cache_write_tokens": None,
    "reasoning_tokens": None,
    "cost_usd": None,
    **NO_OUTPUT,
    "tool_calls": 2,
    **NO_DECISIONS,
}

SCENARIOS = [
    ("genai-semconv-python/genai_anthropic_default_http_protobuf", "genai-agent-app", ANTHROPIC_APP),
    ("genai-semconv-python/openai_v2_default_http_protobuf", "genai-agent-app", OPENAI_V2_APP),
    ("goose/http_protobuf_default", "goose", GOOSE),
]


@pytest.mark.parametrize(("scenario", "agent", "expected"), SCENARIOS, ids=[s for s, _, _ in SCENARIOS])
def test_a_captured_turn_is_counted_once_from_its_chat_spans(
    tmp_path: Path, scenario: str, agent: str, expected: dict
) -> None:
    derived = replayed(tmp_path, scenario)
    assert figures(derived.agent(agent)) == expected
    assert figures(derived.summary["totals"]) == expected
    assert "adapter failed" not in derived.stderr


def test_the_anthropic_sdk_span_merges_into_the_instrumentations_call(tmp_path: Path) -> None:
    # 6 CLIENT spans with usage (3 chat + 3 anthropic.messages.create), 3 calls.
    derived = replayed(tmp_path, "genai-semconv-python/genai_anthropic_default_http_protobuf")
    (session,) = derived.sessions
    assert session["agent"] == "genai-agent-app"
    assert session["id"] == "31abed65-776b-44d1-8e28-5a0254cda292"
    assert session["models"] == ["claude-sonnet-4-5"]
    assert session["requests"] == 3 and session["input_tokens"] == 18366 and session["tool_calls"] == 2


def test_an_id_only_on_invoke_agent_reaches_the_calls_of_its_trace(tmp_path: Path) -> None:
    derived = replayed(tmp_path, "genai-semconv-python/openai_v2_default_http_protobuf")
    (session,) = derived.sessions
    assert session["id"] == "93f392c4-48e5-4ac5-8502-f6ae0c40c8df"
    assert session["requests"] == 3 and session["tool_calls"] == 2


def test_goose_keeps_its_own_name_and_its_session_id(tmp_path: Path) -> None:
    derived = replayed(tmp_path, "goose/http_protobuf_default")
    (session,) = derived.sessions
    assert session["agent"] == "goose" and session["id"] == "20261123_1"
    assert [r["agent"] for r in derived.summary["by_agent"]] == ["goose"]


def test_three_scenarios_in_one_store(tmp_path: Path) -> None:
    derived = replayed(tmp_path, *(s for s, _, _ in SCENARIOS))
    app = derived.agent("genai-agent-app")
    assert app["sessions"] == 2 and app["requests"] == 6
    assert app["input_tokens"] == 18366 + 9630
    # Cache reads are known from the Anthropic run only: the total adds what is known.
    assert app["cache_read_tokens"] == 12963
    assert figures(derived.agent("goose")) == GOOSE


# -- an unknown agent speaking only the GenAI semantic conventions (real SDK, real listener) ---------
SERVICE = "acme-agent"  # made up: no adapter knows it, so only the generic rules apply


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Listener]:
    srv = start_listener(tmp_path / "agentwatch.db")
    yield srv
    srv.stop()


def resource(service: str = SERVICE, **extra: str) -> Resource:
    return Resource.create({"service.name": service, **extra})


def export_spans(srv: Listener, res: Resource, scene: Callable[[TracerProvider], None]) -> None:
    """Each span is exported as it ends (children before their parent), acknowledged after COMMIT."""
    provider = TracerProvider(resource=res)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{srv.http_url}/v1/traces")))
    scene(provider)
    assert provider.force_flush(10_000)
    provider.shutdown()


def export_token_usage(srv: Listener, res: Resource, points: list[tuple[float, dict]]) -> None:
    """gen_ai.client.token.usage as the GenAI utils record it: a histogram, cumulative, one export."""
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{srv.http_url}/v1/metrics"), export_interval_millis=3_600_000
    )
    provider = MeterProvider(resource=res, metric_readers=[reader])
    histogram = provider.get_meter("acme.telemetry").create_histogram("gen_ai.client.token.usage", unit="{token}")
    for value, attrs in points:
        histogram.record(value, attrs)
    provider.shutdown()  # exports once


def summary(srv: Listener) -> dict:
    today = datetime.datetime.now(datetime.timezone.utc).date()
    day = datetime.timedelta(days=1)
    return summary_json(srv.db, str(today - day), str(today + day))


def acme(srv: Listener) -> dict:
    rows = [r for r in summary(srv)["by_agent"] if r["agent"] == SERVICE]
    assert len(rows) == 1
    return figures(rows[0])


def chat(tracer: Tracer, response_id: str, usage: dict[str, int], **attrs: str) -> None:
    with tracer.start_as_current_span("chat acme-1", kind=SpanKind.CLIENT) as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "acme-1"})
        span.set_attributes({"gen_ai.response.id": response_id, "gen_ai.response.model": "acme-1", **attrs})
        span.set_attributes({f"gen_ai.usage.{k}": v for k, v in usage.items()})


def one_turn(provider: TracerProvider) -> None:
    """An agent turn: 2 calls, 1 tool, and the roll-ups that repeat them.

    call 1: input 1000 (of which cache_read 400), output 50; no conversation id of its own
    call 2: input 2000, output 100; the vendor SDK's own span repeats it (same response id)
    a chat span with neither usage nor response id (nothing countable)
    invoke_agent with the conversation id and the totals 3000 / 150 (a roll-up)
    """
    tracer = provider.get_tracer("acme.agent")
    vendor = provider.get_tracer("com.acme.sdk")
    with tracer.start_as_current_span("invoke_agent acme") as turn:
        turn.set_attributes({"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": "conv-1"})
        turn.set_attributes({"gen_ai.usage.input_tokens": 3000, "gen_ai.usage.output_tokens": 150})
        chat(tracer, "resp-1", {"input_tokens": 1000, "output_tokens": 50, "cache_read.input_tokens": 400})
        with tracer.start_as_current_span("execute_tool shell") as tool:
            tool.set_attributes({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "shell"})
            tool.set_attribute("gen_ai.tool.call.id", "call-1")
        with tracer.start_as_current_span("chat acme-1", kind=SpanKind.CLIENT) as second:
            second.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "acme-1"})
            second.set_attributes({"gen_ai.conversation.id": "conv-1", "gen_ai.response.id": "resp-2"})
            second.set_attributes({"gen_ai.usage.input_tokens": 2000, "gen_ai.usage.output_tokens": 100})
            chat(vendor, "resp-2", {"input_tokens": 2000, "output_tokens": 100})
        with tracer.start_as_current_span("chat acme-1", kind=SpanKind.CLIENT) as empty:
            empty.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "acme-1"})


# The turn's chat calls as the metric records them, plus the points for invoke_agent
# that util-genai 1.1b0 records into the same instrument (a roll-up: never counted).
TOKEN_POINTS = [
    (1000.0, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "acme-1", "gen_ai.token.type": "input"}),
    (2000.0, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "acme-1", "gen_ai.token.type": "input"}),
    (50.0, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "acme-1", "gen_ai.token.type": "output"}),
    (100.0, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "acme-1", "gen_ai.token.type": "output"}),
    (3000.0, {"gen_ai.operation.name": "invoke_agent", "gen_ai.token.type": "input"}),
    (150.0, {"gen_ai.operation.name": "invoke_agent", "gen_ai.token.type": "output"}),
]

FROM_SPANS = {
    "sessions": 1,  # conv-1: on the invoke_agent span and call 2; call 1 and the tool get it by trace
    "requests": 2,  # resp-1, resp-2 (its vendor span merged); the usage-less chat span is no call
    "errors": 0,
    "input_tokens": 3000,  # 1000 + 2000; invoke_agent's 3000 not added
    "output_tokens": 150,  # 50 + 100
    "cache_read_tokens": 400,  # call 1 only carried it
    "cache_write_tokens": None,
    "reasoning_tokens": None,
    "cost_usd": None,
    **NO_OUTPUT,
    "tool_calls": 1,
    **NO_DECISIONS,
}


def test_an_unknown_agents_spans_and_token_metric_count_each_call_once(served: Listener) -> None:
    res = resource()
    # The metric first: its points wait at rank 1 in the resource's no-session row until
    # the spans (rank 0) of the same resource arrive and take precedence.
    export_token_usage(served, res, TOKEN_POINTS)
    export_spans(served, res, one_turn)
    assert acme(served) == FROM_SPANS


def test_the_token_metric_alone_counts_tokens_but_no_requests(served: Listener) -> None:
    export_token_usage(served, resource(), TOKEN_POINTS)
    assert acme(served) == {
        "sessions": 0,  # points name no session
        "requests": None,  # a metric counts no calls: unknown, not 0
        "errors": None,
        "input_tokens": 3000,  # the chat points 1000 + 2000; invoke_agent's 3000 skipped
        "output_tokens": 150,  # 50 + 100; invoke_agent's 150 skipped
        "cache_read_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
        "cost_usd": None,
        **NO_OUTPUT,
        "tool_calls": None,
        **NO_DECISIONS,
    }


def test_the_spans_alone_give_the_same_figures(served: Listener) -> None:
    export_spans(served, resource(), one_turn)
    assert acme(served) == FROM_SPANS


def test_a_failed_call_without_usage_is_a_request_with_an_error(served: Listener) -> None:
    def failing(provider: TracerProvider) -> None:
        tracer = provider.get_tracer("acme.agent")
        with tracer.start_as_current_span("chat acme-1", kind=SpanKind.CLIENT) as span:
            span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "acme-1"})
            span.set_attributes({"gen_ai.conversation.id": "conv-err", "error.type": "timeout"})
            span.set_status(Status(StatusCode.ERROR, "upstream timed out"))

    export_spans(served, resource(), failing)
    got = acme(served)
    assert (got["sessions"], got["requests"], got["errors"]) == (1, 1, 1)
    assert got["input_tokens"] is None  # nothing reported, so unknown


def test_a_span_with_model_and_usage_but_no_operation_name_is_a_call(served: Listener) -> None:
    def legacy(provider: TracerProvider) -> None:
        with provider.get_tracer("acme.agent").start_as_current_span("llm call") as span:
            span.set_attributes({"gen_ai.request.model": "acme-1", "session.id": "s-legacy"})
            span.set_attributes({"gen_ai.usage.prompt_tokens": 700, "gen_ai.usage.completion_tokens": 30})

    export_spans(served, resource(), legacy)
    got = acme(served)
    # session.id stands in for the conversation id; the deprecated names are read.
    assert (got["sessions"], got["requests"], got["input_tokens"], got["output_tokens"]) == (1, 1, 700, 30)


def goose_like_call(session: str, response_id: str) -> Callable[[TracerProvider], None]:
    def scene(provider: TracerProvider) -> None:
        chat(provider.get_tracer("acme.agent"), response_id, {"input_tokens": 10, "output_tokens": 1},
             **{"gen_ai.conversation.id": session})  # fmt: skip

    return scene


def test_date_counter_session_ids_are_kept_apart_by_host(served: Listener) -> None:
    # 20261130_1 is "the first session of the day" on every machine that runs the agent.
    export_spans(served, resource(**{"host.name": "laptop"}), goose_like_call("20261130_1", "r-1"))
    export_spans(served, resource(**{"host.name": "desktop"}), goose_like_call("20261130_1", "r-2"))
    # A second process on the laptop (another instance id) continues the laptop's session.
    laptop_again = resource(**{"host.name": "laptop", "service.instance.id": "second-process"})
    export_spans(served, laptop_again, goose_like_call("20261130_1", "r-3"))
    got = acme(served)
    assert (got["sessions"], got["requests"], got["input_tokens"]) == (2, 3, 30)


def test_unique_session_ids_are_one_session_across_hosts(served: Listener) -> None:
    # A UUID-like conversation id names one conversation wherever its records come from.
    export_spans(served, resource(**{"host.name": "laptop"}), goose_like_call("c0ffee00-1234", "r-1"))
    export_spans(served, resource(**{"host.name": "desktop"}), goose_like_call("c0ffee00-1234", "r-2"))
    got = acme(served)
    assert (got["sessions"], got["requests"]) == (1, 2)


def test_a_chat_event_merges_into_the_span_it_was_emitted_in(served: Listener) -> None:
    """`gen_ai.client.inference.operation.details` repeats its chat span's attributes (content mode)."""
    res = resource()
    logs = LoggerProvider(resource=res)
    logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{served.http_url}/v1/logs")))
    logger = logs.get_logger("acme.agent")

    def event(attrs: dict) -> None:
        name = "gen_ai.client.inference.operation.details"
        logger.emit(LogRecord(event_name=name, attributes=attrs, context=otel_context.get_current()))

    def calls(provider: TracerProvider) -> None:
        tracer = provider.get_tracer("acme.agent")
        ok = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "acme-1", "gen_ai.conversation.id": "conv-ev"}
        with tracer.start_as_current_span("chat acme-1", kind=SpanKind.CLIENT) as span:
            usage = {"gen_ai.response.id": "resp-ev", "gen_ai.usage.input_tokens": 500, "gen_ai.usage.output_tokens": 20}
            span.set_attributes({**ok, **usage})
            event({**ok, **usage})  # same response id: the same call
        with tracer.start_as_current_span("chat acme-1", kind=SpanKind.CLIENT) as failed:
            failed.set_attributes({**ok, "error.type": "overloaded"})
            failed.set_status(Status(StatusCode.ERROR))
            event({**ok, "error.type": "overloaded"})  # no response id: keyed by the span it is in

    export_spans(served, res, calls)
    assert logs.force_flush(10_000)
    logs.shutdown()
    got = acme(served)
    # 2 spans + 2 events = 2 calls: 500 / 20 once, and one error.
    assert (got["sessions"], got["requests"], got["errors"]) == (1, 2, 1)
    assert (got["input_tokens"], got["output_tokens"]) == (500, 20)
