"""T40: a sentinel string sent in content, attributes, bodies, paths and bad input
appears in none of agentwatch's output, and not in the database under the default policy.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from support import rawhttp
from support.listener import start_listener


def _kv(key: str, text: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=text))


def _requests(sentinel: str) -> list[tuple[str, bytes, str]]:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend([_kv("service.name", "claude-code"), _kv("process.command_args", sentinel)])
    record = rl.scope_logs.add().log_records.add(time_unix_nano=1_800_000_000_000_000_000)
    record.attributes.extend([_kv("event.name", "gen_ai.user.message"), _kv("prompt", sentinel),
                              _kv("tool_input", sentinel), _kv("gen_ai.input.messages", sentinel)])
    record.body.string_value = sentinel
    good = req.SerializeToString()
    bad_json = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": sentinel, "traceId": sentinel}]}]}]}).encode()
    return [
        ("/v1/logs", good, "application/x-protobuf"),
        ("/v1/logs", bad_json, "application/json"),
        ("/v1/logs", good[:-3] + sentinel.encode(), "application/x-protobuf"),
        (f"/v1/{sentinel}", good, "application/x-protobuf"),
        ("/v1/logs", good, f"text/{sentinel}"),
    ]


def test_a_sentinel_reaches_no_log_line_and_is_not_stored(tmp_path: Path) -> None:
    sentinel = f"AW-SENTINEL-{uuid.uuid4()}"
    srv = start_listener(tmp_path / "h.db")
    try:
        statuses = [rawhttp.post(srv.http_port, path, body, ctype).status for path, body, ctype in _requests(sentinel)]
    finally:
        srv.stop()
    # Stored; bad JSON; corrupt protobuf; unknown path; not an OTLP content type.
    assert statuses == [200, 400, 400, 404, 415]
    log = srv.stderr()
    assert "refused" in log  # the refusals were logged...
    assert sentinel not in log  # ...without quoting anything the client sent
    conn = sqlite3.connect(srv.db)
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    assert sentinel not in dump
    assert len(sentinel) == 48  # the elided lengths below are this
    assert '"prompt":48' in dump and '"process.command_args":48' in dump
