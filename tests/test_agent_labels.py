"""One agent label: `status`, `summary` and `sessions` name the same agent.

A user who exports OTEL_SERVICE_NAME=my-app globally gives Claude Code that
service.name; its instrumentation scope (`com.anthropic.claude_code...`) still
says Claude Code. The captured enhanced-beta Claude run is replayed with every
resource's service.name rewritten to my-app, through a real listener, and the
three commands are run as the user runs them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from support.accounting import SINCE, cli_json, summary_json
from support.listener import start_listener
from support.replay import FIXTURES, replay

SCENARIO = FIXTURES / "claude-code" / "enhanced_beta_traces_http_protobuf"
REQUESTS = {
    "logs": (ExportLogsServiceRequest, "resource_logs"),
    "metrics": (ExportMetricsServiceRequest, "resource_metrics"),
    "traces": (ExportTraceServiceRequest, "resource_spans"),
}


def _renamed(scenario: Path, tmp: Path, service: str) -> Path:
    """A copy of a protobuf scenario whose resources all say service.name=`service`."""
    copy = tmp / scenario.name
    shutil.copytree(scenario, copy)
    for body in (copy / "otlp").glob("*.pb"):
        message_type, resources = REQUESTS[body.stem.rsplit("_", 1)[1]]
        message = message_type.FromString(body.read_bytes())
        for group in getattr(message, resources):
            for attribute in group.resource.attributes:
                if attribute.key == "service.name":
                    attribute.value.string_value = service
        body.write_bytes(message.SerializeToString())
    return copy


def test_a_claude_code_event_under_another_service_name_is_claude_code_everywhere(tmp_path: Path) -> None:
    scenario = _renamed(SCENARIO, tmp_path, "my-app")
    db = tmp_path / "agentwatch.db"
    listener = start_listener(db)
    try:
        replay(scenario, listener.http_port, listener.grpc_port)
        status = cli_json(db, "status")
        summary = summary_json(db)
        sessions = cli_json(db, "sessions", "--since", SINCE, "--tz", "UTC")
    finally:
        listener.stop()
    # Every raw row under claude-code: 12 log records, 25 metric points and 11 spans,
    # the scenario's counts (tests/test_replay_fixtures.py EXPECTED), none under my-app.
    assert [(a["agent"], a["logs"], a["metric_points"], a["spans"]) for a in status["agents"]] == [
        ("claude-code", 12, 25, 11)
    ]
    assert [row["agent"] for row in summary["by_agent"]] == ["claude-code"]
    assert sessions and {s["agent"] for s in sessions} == {"claude-code"}
