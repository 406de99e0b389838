"""Every attribute of every captured record, set to each AnyValue type, through a real listener.

OTLP lets any attribute hold any AnyValue (string, bool, int, double, array, kvlist,
bytes). A reader that assumes a string (a set lookup of `event.name`, a dict lookup of
a token type) turns a valid request into a 500, which exporters do not retry: the
batch would be lost. Each captured protobuf request is sent once per type with every
attribute value (resource, scope and record) replaced by a value of that type; each
must be acknowledged, no adapter may fail, and every report must still be strict JSON.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from support.listener import Listener, start_listener
from support.replay import requests_of, scenario_id, scenarios

MESSAGES = {"logs": ExportLogsServiceRequest, "metrics": ExportMetricsServiceRequest, "traces": ExportTraceServiceRequest}

VALUES = {
    "array": AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="x"), AnyValue(int_value=1)])),
    "kvlist": AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key="k", value=AnyValue(string_value="v"))])),
    "bytes": AnyValue(bytes_value=b"\x00\xff"),
    "bool": AnyValue(bool_value=True),
    "int": AnyValue(int_value=-(2**63)),
    "double": AnyValue(double_value=float("nan")),
    "empty": AnyValue(),
}


def _key_values(message: Message) -> Iterator[KeyValue]:
    """Every KeyValue inside a message (attributes at any depth: resource, scope, record, point)."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        items = value if not isinstance(value, Message) else [value]  # a repeated field is a container
        for item in items:
            if isinstance(item, KeyValue):
                yield item
            elif isinstance(item, Message) and not isinstance(item, AnyValue):
                yield from _key_values(item)


# With these kept as sent, each record still reaches its agent's adapter and its record
# reader (an event's, a metric's), which then meets the odd values; without, the
# registry and the view's own lookups do.
KEPT = {"everything": frozenset(), "all but the names": frozenset({"event.name", "service.name"})}


def _mutated(body: bytes, signal: str, value: AnyValue, kept: frozenset[str]) -> bytes:
    message = MESSAGES[signal].FromString(body)
    for kv in _key_values(message):
        if kv.key not in kept:
            kv.value.CopyFrom(value)
    return message.SerializeToString()


def _protobuf_requests() -> list[tuple[str, bytes]]:
    out = []
    for scenario in scenarios():
        for req in requests_of(scenario):
            if req.transport == "http" and "json" in req.content_type:
                continue  # OTLP/JSON bodies: the same readers, reached through the JSON decoder
            body = req.body
            if req.headers.get("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            out.append((req.signal, body))
    return out


def _post(listener: Listener, signal: str, body: bytes) -> int:
    request = urllib.request.Request(f"{listener.http_url}/v1/{signal}", data=body,
                                     headers={"Content-Type": "application/x-protobuf"}, method="POST")  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status
    except urllib.error.HTTPError as refused:
        return refused.code


def _strict(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def listener(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    srv = start_listener(tmp_path_factory.mktemp("anyvalue") / "agentwatch.db")
    yield srv
    srv.stop()


@pytest.mark.parametrize("kept", list(KEPT))
@pytest.mark.parametrize("kind", list(VALUES))
def test_every_attribute_as_any_value_type_is_acknowledged_and_no_adapter_fails(
    listener: Listener, kind: str, kept: str
) -> None:
    requests = _protobuf_requests()
    assert len(requests) >= 39, [scenario_id(s) for s in scenarios()]  # the premise: the protobuf captures are here
    refused = [(signal, status) for signal, body in requests
               if (status := _post(listener, signal, _mutated(body, signal, VALUES[kind], KEPT[kept]))) != 200]  # fmt: skip
    assert refused == []
    assert "adapter failed" not in listener.stderr()
    assert "Traceback" not in listener.stderr()


def test_reports_stay_strict_json_after_every_mutation(listener: Listener) -> None:
    for command in (["summary", "--since", "2026-11-20", "--until", "2026-11-26"], ["sessions", "--since", "2026-11-20"], ["status"]):
        out = subprocess.run([sys.executable, "-m", "agentwatch", *command, "--json", "--db", str(listener.db)],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        _strict(out.stdout)
