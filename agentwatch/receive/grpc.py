"""OTLP/gRPC on grpc.aio, in the same event loop as the HTTP listener.

Handlers take the raw request bytes (no deserializer) so both transports run
the same decode → ingest path. grpcio enforces the message size limit itself,
after decompression, with RESOURCE_EXHAUSTED (measured flat memory on a
512 MiB gzip bomb; RELIABILITY §4).
"""

from __future__ import annotations

from typing import Awaitable, Callable

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from agentwatch.receive.decode import RESPONSE_TYPES, Encoding
from agentwatch.receive.ingest import Ingest
from agentwatch.receive.outcome import Accepted, Refused
from agentwatch.receive.status import mapping, short
from agentwatch.records import Signal

SERVICES = {
    Signal.LOGS: "opentelemetry.proto.collector.logs.v1.LogsService",
    Signal.METRICS: "opentelemetry.proto.collector.metrics.v1.MetricsService",
    Signal.TRACES: "opentelemetry.proto.collector.trace.v1.TraceService",
}


def _status_details(refused: Refused) -> bytes:
    m = mapping(refused.problem)
    status = status_pb2.Status(code=m.grpc.value[0], message=short(refused.message))
    if m.retry_after is not None:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=m.retry_after)))
        status.details.append(detail)
    return status.SerializeToString()


def _export_handler(
    ingest: Ingest, signal: Signal
) -> Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]:
    empty_response = RESPONSE_TYPES[signal]().SerializeToString()

    async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        with ingest.slot() as admitted:
            outcome = await ingest(signal, "grpc", Encoding.PROTOBUF, request) if admitted else ingest.too_busy
        if isinstance(outcome, Accepted):
            return empty_response
        await context.abort(
            mapping(outcome.problem).grpc,
            short(outcome.message),
            trailing_metadata=(("grpc-status-details-bin", _status_details(outcome)),),
        )
        raise AssertionError("abort returns only by raising")

    return export


def make_server(ingest: Ingest, max_message_bytes: int) -> grpc.aio.Server:
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
            ("grpc.so_reuseport", 0),  # a second listener on the same port must fail, not share it
        ],
        compression=None,
    )
    handlers = [
        grpc.method_handlers_generic_handler(
            service, {"Export": grpc.unary_unary_rpc_method_handler(_export_handler(ingest, signal))}
        )
        for signal, service in SERVICES.items()
    ]
    server.add_generic_rpc_handlers(handlers)
    return server
