"""Command line: argparse → one call per command, returning the exit code."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from agentwatch import __version__
from agentwatch.paths import DB_ENV, default_db_path


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help=f"SQLite database (default: ${DB_ENV}, else {default_db_path()})",
    )


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is 0-65535 (0 = any free port)")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentwatch", description="Local observability for AI coding agents."
    )
    parser.add_argument("--version", action="version", version=f"agentwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the local OTLP listener (HTTP :4318, gRPC :4317)")
    serve.add_argument(
        "--host",
        action="append",
        default=None,
        help="address to listen on (repeatable; default 127.0.0.1 and ::1)",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept requests whose Host header is NAME (repeatable; loopback names always are)",
    )
    serve.add_argument("--http-port", type=_port, default=4318, help="OTLP/HTTP port (0 = ephemeral)")
    serve.add_argument("--grpc-port", type=_port, default=4317, help="OTLP/gRPC port (0 = ephemeral)")
    serve.add_argument(
        "--keep-content",
        action="store_true",
        help="store prompts, responses and tool input/output as sent (default: keep only their length)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes that build rows while the writer inserts (default: 1 with 2+ cores, else 0)",
    )
    serve.add_argument("--max-body-mib", type=float, default=16, help="request size limit after decompression")
    serve.add_argument("--retain-days", type=float, default=30, help="keep raw rows this many days (0 = forever)")
    serve.add_argument("--retain-mib", type=float, default=2048, help="prune oldest raw rows above this size (0 = no limit)")
    _add_db(serve)

    status = sub.add_parser("status", help="is a listener running, and what has it stored")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    _add_db(status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    db = args.db.expanduser() if args.db else default_db_path()
    if args.command == "serve":
        return _serve(args, db)
    return _status(args, db)


def _serve(args: argparse.Namespace, db: Path) -> int:
    from agentwatch.config import DEFAULT_HOSTS, ServeSettings, default_workers
    from agentwatch.serve import StartupError, serve
    from agentwatch.store.connect import StoreError
    from agentwatch.store.retention import RetentionPolicy

    logging.basicConfig(level=logging.INFO, format="agentwatch: %(message)s", stream=sys.stderr)
    hosts: tuple[str, ...] = DEFAULT_HOSTS
    if args.host:
        hosts = tuple(h for raw in args.host for h in (DEFAULT_HOSTS if raw == "localhost" else (raw,)))
    settings = ServeSettings(
        db=db,
        hosts=hosts,
        allow_hosts=tuple(args.allow_host),
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        keep_content=args.keep_content,
        max_body=int(args.max_body_mib * 1024 * 1024),
        workers=default_workers() if args.workers is None else max(0, args.workers),
        retention=RetentionPolicy(
            max_age_days=args.retain_days or None,
            max_bytes=int(args.retain_mib * 1024 * 1024) or None,
        ),
    )
    try:
        return asyncio.run(serve(settings))
    except (StartupError, StoreError) as exc:
        print(f"agentwatch: {exc}", file=sys.stderr)
        return 1


def _iso(ns: int) -> str | None:
    if not ns:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="seconds")


def _status(args: argparse.Namespace, db: Path) -> int:
    from agentwatch.query.status import agent_status
    from agentwatch.store.connect import StoreError, db_bytes, open_reader, wal_reset_bug_affected
    from agentwatch.store.lock import read_listener

    listener = read_listener(db)
    agents: list[dict[str, Any]] = []
    error = None
    if db.exists():
        try:
            conn = open_reader(db)
            agents = [
                {
                    "agent": a.agent,
                    "logs": a.logs,
                    "metric_points": a.metric_points,
                    "spans": a.spans,
                    "last_received": _iso(a.last_received_ns),
                }
                for a in agent_status(conn)
            ]
            conn.close()
        except (StoreError, sqlite3.Error) as exc:
            error = str(exc)
    report = {
        "db": str(db),
        "db_bytes": db_bytes(db) if db.exists() else None,
        "sqlite_version": sqlite3.sqlite_version,
        "listener": {
            "running": listener is not None,
            "pid": listener.pid if listener else None,
            "http_port": listener.http_port if listener else None,
            "grpc_port": listener.grpc_port if listener else None,
            "keep_content": listener.keep_content if listener else None,
        },
        "agents": agents,
    }
    if error:
        report["error"] = error
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_status_text(report, wal_reset_bug_affected(sqlite3.sqlite_version), db.exists()))
    return 1 if error else 0


def _status_text(report: dict[str, Any], old_sqlite: bool, exists: bool) -> str:
    lst = report["listener"]
    lines = []
    if lst["running"]:
        content = "stored as sent (--keep-content)" if lst["keep_content"] else "dropped, lengths kept"
        lines.append(f"listener  running (pid {lst['pid']}, http {lst['http_port']}, grpc {lst['grpc_port']})")
        lines.append(f"content   {content}")
    else:
        lines.append("listener  not running (start it with `agentwatch serve`)")
    size = f"{report['db_bytes'] / 1e6:.1f} MB" if exists else "not created yet"
    lines.append(f"database  {report['db']} ({size})")
    warn = "  (has the WAL-reset bug fixed in 3.51.3; agentwatch's single writer avoids it)" if old_sqlite else ""
    lines.append(f"sqlite    {report['sqlite_version']}{warn}")
    if "error" in report:
        lines.append(f"error     {report['error']}")
    lines.append("")
    if not report["agents"]:
        lines.append("No telemetry received yet. Point an agent here, e.g.")
        lines.append("  export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318")
        return "\n".join(lines)
    header = f"{'agent':<20} {'log records':>12} {'metric points':>14} {'spans':>10}  last received (UTC)"
    lines.append(header)
    for a in report["agents"]:
        last = a["last_received"] or "—"
        lines.append(f"{a['agent']:<20} {a['logs']:>12,} {a['metric_points']:>14,} {a['spans']:>10,}  {last}")
    return "\n".join(lines)
