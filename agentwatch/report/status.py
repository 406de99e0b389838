"""`agentwatch status` as text and JSON, from query.status's StatusReport.

The JSON shape is public (scripts read it): its keys are pinned by tests.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from agentwatch.display import or_unknown, printable
from agentwatch.query.status import StatusReport
from agentwatch.report.hints import how_to_send

# Said here, where it can be read at leisure, not on every start; worded for what the
# user can do: agentwatch is not at risk, so the only action concerns other programs.
OLD_SQLITE_NOTE = (
    "\n          this SQLite has the WAL-reset bug fixed in 3.51.3: agentwatch writes through one\n"
    "          connection and is not affected; nothing to do unless other programs write to this file"
)


def _utc_iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="seconds")


def status_json(report: StatusReport) -> dict[str, Any]:
    """`agentwatch status --json`; an `error` key only when the database could not be read."""
    lst = report.listener
    out: dict[str, Any] = {
        "db": str(report.db),
        "db_bytes": report.db_bytes,
        "sqlite_version": report.sqlite_version,
        "sqlite_wal_reset_bug": report.sqlite_wal_reset_bug,
        "listener": {
            "running": lst is not None,
            "pid": lst.pid if lst else None,
            "http_port": lst.http_port if lst else None,
            "grpc_port": lst.grpc_port if lst else None,
            "keep_content": lst.keep_content if lst else None,
        },
        "agents": [
            {
                "agent": a.agent,
                "logs": a.logs,
                "metric_points": a.metric_points,
                "spans": a.spans,
                "last_received": _utc_iso(a.last_received_ns),
            }
            for a in report.agents
        ],
    }
    if report.error is not None:
        out["error"] = report.error
    return out


def _listener_lines(report: StatusReport) -> list[str]:
    lst = report.listener
    if lst is None:
        return ["listener  not running (start it with `agentwatch serve`)"]
    content = "stored as sent (--keep-content)" if lst.keep_content else "dropped, lengths kept"
    return [
        f"listener  running (pid {lst.pid}, http {or_unknown(lst.http_port)}, grpc {or_unknown(lst.grpc_port)})",
        f"content   {content}",
    ]


def _size(report: StatusReport) -> str:
    if report.db_bytes is not None:
        return f"{report.db_bytes / 1e6:.1f} MB"
    return "unusable" if report.error else "not created yet"


def status_text(report: StatusReport) -> str:
    """The listener, the database and a line per agent; an unusable database's error, not a hint."""
    lines = _listener_lines(report)
    lines.append(f"database  {report.db} ({_size(report)})")
    lines.append(f"sqlite    {report.sqlite_version}{OLD_SQLITE_NOTE if report.sqlite_wal_reset_bug else ''}")
    if report.error is not None:
        lines.append(f"error     {report.error}")
        return "\n".join(lines)
    lines.append("")
    if not report.agents:
        lines.append("No telemetry received yet.")
        lines.append(how_to_send(report.listener))
        return "\n".join(lines)
    lines.append(f"{'agent':<20} {'log records':>12} {'metric points':>14} {'spans':>10}  last received (UTC)")
    for a in report.agents:
        last = or_unknown(_utc_iso(a.last_received_ns))
        lines.append(f"{printable(a.agent):<20} {a.logs:>12,} {a.metric_points:>14,} {a.spans:>10,}  {last}")
    return "\n".join(lines)
