"""Emit known numbers of records with the official OpenTelemetry SDK exporters.

Run as a script (`python tests/support/sdk.py TRANSPORT ENDPOINT SERVICE`) to act
as a separate exporter process.
"""

from __future__ import annotations

import sys
from typing import Callable

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


LOGS = 250
SPANS = 120
SERIES = 7  # distinct attribute sets on one counter → 7 data points per export


def _resource(name: str) -> Resource:
    return Resource.create({"service.name": name})


def emit_logs(exporter: object, service: str, n: int = LOGS) -> None:
    provider = LoggerProvider(resource=_resource(service))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))  # type: ignore[arg-type]
    logger = provider.get_logger("agentwatch.tests")
    for i in range(n):
        logger.emit(
            LogRecord(
                body=f"event {i}",
                severity_number=SeverityNumber.INFO,
                attributes={"event.name": "test.event", "i": i, "session.id": "s-1"},
            )
        )
    assert provider.force_flush(10_000)
    provider.shutdown()


def emit_spans(exporter: object, service: str, n: int = SPANS) -> None:
    provider = TracerProvider(resource=_resource(service))
    provider.add_span_processor(BatchSpanProcessor(exporter))  # type: ignore[arg-type]
    tracer = provider.get_tracer("agentwatch.tests")
    for i in range(n):
        with tracer.start_as_current_span(f"span {i}") as span:
            span.set_attribute("i", i)
    assert provider.force_flush(10_000)
    provider.shutdown()


def emit_metrics(exporter: object, service: str) -> None:
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)  # type: ignore[arg-type]
    provider = MeterProvider(resource=_resource(service), metric_readers=[reader])
    counter = provider.get_meter("agentwatch.tests").create_counter("test.requests")
    for series in range(SERIES):
        counter.add(series + 1, {"series": series})
    # shutdown exports once; a force_flush before it would export the cumulative points twice.
    provider.shutdown()


HTTP: dict[str, Callable[[str], object]] = {
    "logs": lambda url: HttpLogExporter(endpoint=f"{url}/v1/logs"),
    "metrics": lambda url: HttpMetricExporter(endpoint=f"{url}/v1/metrics"),
    "traces": lambda url: HttpSpanExporter(endpoint=f"{url}/v1/traces"),
}
GRPC: dict[str, Callable[[str], object]] = {
    "logs": lambda target: GrpcLogExporter(endpoint=target, insecure=True),
    "metrics": lambda target: GrpcMetricExporter(endpoint=target, insecure=True),
    "traces": lambda target: GrpcSpanExporter(endpoint=target, insecure=True),
}



def emit_all(transport: str, endpoint: str, service: str) -> None:
    make = HTTP if transport == "http" else GRPC
    emit_logs(make["logs"](endpoint), service)
    emit_spans(make["traces"](endpoint), service)
    emit_metrics(make["metrics"](endpoint), service)


if __name__ == "__main__":
    emit_all(*sys.argv[1:4])
