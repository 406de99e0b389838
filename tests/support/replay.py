"""Replay captured agent telemetry (tests/fixtures/agents) with its own transport and headers."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from pathlib import Path

import grpc

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "agents"

GRPC_METHODS = {
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
}
# Hop-by-hop or connection-specific headers that http.client manages itself.
_SKIP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


@dataclass(frozen=True)
class CapturedRequest:
    seq: int
    transport: str
    signal: str
    content_type: str
    records: int
    body: bytes
    headers: dict[str, str]
    path: str
    chunked: bool


def scenarios() -> list[Path]:
    return sorted(p.parent for p in FIXTURES.glob("*/*/otlp"))


def scenario_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def requests_of(scenario: Path) -> list[CapturedRequest]:
    otlp = scenario / "otlp"
    out = []
    for line in (otlp / "index.jsonl").read_text().splitlines():
        entry = json.loads(line)
        stem = f"{entry['seq']:04d}_{entry['transport']}_{entry['signal']}"
        body_file = next(p for p in (otlp / f"{stem}.pb", otlp / f"{stem}.json") if p.exists())
        meta = json.loads((otlp / f"{stem}.headers.json").read_text())
        headers = meta.get("headers") or {}
        out.append(
            CapturedRequest(
                seq=entry["seq"],
                transport=entry["transport"],
                signal=entry["signal"],
                content_type=entry.get("content_type") or "application/grpc",
                records=entry["records"],
                body=body_file.read_bytes(),
                headers={k: v for k, v in headers.items() if isinstance(v, str)},
                path=meta.get("path") or f"/v1/{entry['signal']}",
                chunked=headers.get("Transfer-Encoding", "").lower() == "chunked",
            )
        )
    return out


def send_http(port: int, req: CapturedRequest, host: str = "127.0.0.1") -> tuple[int, bytes]:
    """POST as the agent did: same path and headers, chunked if it sent chunked."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    headers = {k: v for k, v in req.headers.items() if k.lower() not in _SKIP_HEADERS}
    headers["Host"] = f"{host}:{port}"
    try:
        if req.chunked:
            conn.request("POST", req.path, body=iter([req.body]), headers=headers, encode_chunked=True)
        else:
            conn.request("POST", req.path, body=req.body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def send_grpc(channel: grpc.Channel, req: CapturedRequest) -> bytes:
    call = channel.unary_unary(GRPC_METHODS[req.signal])
    return call(req.body, timeout=30)


def replay(scenario: Path, http_port: int, grpc_port: int) -> list[CapturedRequest]:
    """Send every request of a scenario in order; raise on any refusal."""
    sent = requests_of(scenario)
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        for req in sent:
            if req.transport == "grpc":
                send_grpc(channel, req)
            else:
                status, body = send_http(http_port, req)
                if status != 200:
                    raise AssertionError(f"{req.seq} {req.path}: HTTP {status} {body[:200]!r}")
    return sent
