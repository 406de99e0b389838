"""Uniquely tagged OTLP log requests, and how to count them back in the store.

Request n of run r carries RECORDS_PER_REQUEST log records, each with the
attributes `run=r`, `req=n` and `i=0..19` and a timestamp fixed by (n, i), from
service `tagged-<r>`. Building request n twice gives byte-identical protobuf, so
a re-send must be recognised as a duplicate. The run id keeps tests apart when
several test sessions share a machine (a killed listener's port can be taken by
another session's listener while a loader still retries it).
Standard library + opentelemetry-proto only: the loader subprocess imports this.
"""

from __future__ import annotations

import http.client
import sqlite3
import uuid
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

RECORDS_PER_REQUEST = 20
BASE_TIME_NS = 1_760_000_000_000_000_000  # 2025-10-09, a fixed past instant
PROTOBUF = "application/x-protobuf"


def _kv(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def new_run() -> str:
    return uuid.uuid4().hex[:12]


def service_of(run: str) -> str:
    """The service (and so the agent name in agent_totals) of a run: not a known agent."""
    return f"tagged-{run}"


def log_request(
    run: str,
    req: int,
    records: int = RECORDS_PER_REQUEST,
    service: str | None = None,
    body_chars: int = 0,
) -> ExportLogsServiceRequest:
    """Request `req`: `records` log records tagged run, req=<req>, i=<0..records-1>.

    `service` overrides the run's own service name (to pose as a known agent);
    `body_chars` pads each body to make records that fill pages.
    """
    logs = [
        LogRecord(
            time_unix_nano=BASE_TIME_NS + req * 1_000_000 + i,
            severity_number=9,
            severity_text="INFO",
            event_name="tagged",
            body=AnyValue(string_value=f"request {req} record {i}".ljust(body_chars, ".")),
            attributes=[_kv("run", run), _kv("req", req), _kv("i", i)],
        )
        for i in range(records)
    ]
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=[_kv("service.name", service or service_of(run))]),
                scope_logs=[ScopeLogs(scope=InstrumentationScope(name="tagged"), log_records=logs)],
            )
        ]
    )


def log_body(run: str, req: int, records: int = RECORDS_PER_REQUEST) -> bytes:
    return log_request(run, req, records).SerializeToString(deterministic=True)


def post(
    port: int, path: str, body: bytes, timeout: float = 15.0, content_type: str = PROTOBUF
) -> tuple[int, dict[str, str], bytes]:
    """One POST on a fresh connection: (status, lower-cased headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": content_type, "Host": f"127.0.0.1:{port}"},
        )
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def rows_per_request(db: Path, run: str) -> dict[int, int]:
    """Stored log records of a run per `req` tag, read through a read-only connection."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT json_extract(attributes, '$.req'), count(*) FROM log_records "
            "WHERE json_extract(attributes, '$.run') = ? GROUP BY 1",
            (run,),
        ).fetchall()
    finally:
        conn.close()
    return {int(req): n for req, n in rows}


def integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return "\n".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()
