"""Command line: argparse → one call per command, returning the exit code."""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any, Sequence

from agentwatch import __version__
from agentwatch.config import (
    DEFAULT_GRPC_PORT,
    DEFAULT_HOSTS,
    DEFAULT_HTTP_PORT,
    DEFAULT_MAX_BODY,
    DEFAULT_RETAIN_BYTES,
    DEFAULT_RETAIN_DAYS,
    MIB,
    RetentionPolicy,
    ServeSettings,
    default_workers,
)
from agentwatch.display import or_unknown, printable
from agentwatch.paths import DB_ENV, default_db_path

# Limits on the numeric flags, each from what breaks beyond it.
MAX_BODY_MIB = 1024  # gRPC's max_receive_message_length is an int32: 2048 MiB overflows it
MAX_RETAIN_DAYS = 36_500  # a century; far more overflows the nanosecond cutoff SQLite compares
MAX_RETAIN_MIB = 16 * 1024 * 1024  # 16 TiB, a bound only so the byte count stays an ordinary int
MAX_WORKERS = 8  # row builders beyond this wait on the one writer anyway


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


def _finite(value: str) -> float:
    # float() takes "nan" and "inf", which no limit or age means; argparse shows this message.
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{value!r} is not a finite number")
    return number


def _max_body_mib(value: str) -> float:
    mib = _finite(value)
    if not 0 < mib <= MAX_BODY_MIB:
        raise argparse.ArgumentTypeError(
            f"the size limit is more than 0 and at most {MAX_BODY_MIB} MiB, not {value}"
        )
    return mib


def _retain_days(value: str) -> float:
    days = _finite(value)
    if not 0 <= days <= MAX_RETAIN_DAYS:
        raise argparse.ArgumentTypeError(f"days are 0 (keep forever) to {MAX_RETAIN_DAYS}, not {value}")
    return days


def _retain_mib(value: str) -> float:
    mib = _finite(value)
    if not 0 <= mib <= MAX_RETAIN_MIB:
        raise argparse.ArgumentTypeError(f"the size is 0 (no limit) to {MAX_RETAIN_MIB} MiB, not {value}")
    return mib


def _workers(value: str) -> int:
    try:
        workers = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 0 <= workers <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(
            f"workers are 0 (build rows in the listener's own process) to {MAX_WORKERS}, not {value}"
        )
    return workers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentwatch", description="Local observability for AI coding agents."
    )
    parser.add_argument("--version", action="version", version=f"agentwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser(
        "serve", help=f"run the local OTLP listener (HTTP :{DEFAULT_HTTP_PORT}, gRPC :{DEFAULT_GRPC_PORT})"
    )
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
    serve.add_argument("--http-port", type=_port, default=DEFAULT_HTTP_PORT, help="OTLP/HTTP port (0 = ephemeral)")
    serve.add_argument("--grpc-port", type=_port, default=DEFAULT_GRPC_PORT, help="OTLP/gRPC port (0 = ephemeral)")
    serve.add_argument(
        "--keep-content",
        action="store_true",
        help="store prompts, responses and tool input/output as sent (default: keep only their length)",
    )
    serve.add_argument(
        "--workers",
        type=_workers,
        default=None,
        help=f"processes that build rows while the writer inserts, 0-{MAX_WORKERS} "
        "(default: 1 with 2+ cores, else 0)",
    )
    serve.add_argument(
        "--max-body-mib",
        type=_max_body_mib,
        default=DEFAULT_MAX_BODY / MIB,
        help=f"request size limit after decompression, up to {MAX_BODY_MIB} (default: %(default)g)",
    )
    serve.add_argument(
        "--retain-days",
        type=_retain_days,
        default=DEFAULT_RETAIN_DAYS,
        help="keep raw rows this many days (0 = forever; default: %(default)g)",
    )
    serve.add_argument(
        "--retain-mib",
        type=_retain_mib,
        default=DEFAULT_RETAIN_BYTES / MIB,
        help="prune oldest raw rows above this size (0 = no limit; default: %(default)g)",
    )
    _add_db(serve)

    status = sub.add_parser("status", help="is a listener running, and what has it stored")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    _add_db(status)

    summary = sub.add_parser("summary", help="sessions, requests, tokens, cost and output for a period")
    summary.add_argument("--date", help="one day, YYYY-MM-DD (default: today)")
    summary.add_argument("--since", help="first day, YYYY-MM-DD (inclusive)")
    summary.add_argument("--until", help="last day, YYYY-MM-DD (inclusive; default: today)")
    summary.add_argument("--tz", help="IANA time zone the days are in (default: this machine's)")
    summary.add_argument(
        "--by", choices=("agent", "model", "day"), default="agent", help="the breakdown the table shows"
    )
    summary.add_argument("--json", action="store_true", help="machine-readable output (all breakdowns)")
    _add_db(summary)

    sessions = sub.add_parser("sessions", help="one row per session")
    sessions.add_argument("--since", help="first day, YYYY-MM-DD (default: 7 days ago)")
    sessions.add_argument("--tz", help="IANA time zone for days and times (default: this machine's)")
    sessions.add_argument("--json", action="store_true", help="machine-readable output")
    _add_db(sessions)

    reindex = sub.add_parser(
        "reindex", help="derive sessions, requests and all figures again from the stored rows (after an upgrade)"
    )
    _add_db(reindex)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # `agentwatch summary | head`: the reader left; say nothing more (Python's advice:
        # point stdout at devnull so the interpreter's final flush cannot fail again).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    db = args.db.expanduser() if args.db else default_db_path()
    if args.command == "serve":
        return _serve(args, db)
    if args.command == "summary":
        return _summary(args, db)
    if args.command == "sessions":
        return _sessions(args, db)
    if args.command == "reindex":
        return _reindex(db)
    return _status(args, db)


def serve_settings(args: argparse.Namespace, db: Path) -> ServeSettings:
    """The parsed (already range-checked) serve flags as settings; 0 retention means no limit."""
    hosts: tuple[str, ...] = DEFAULT_HOSTS
    if args.host:
        hosts = tuple(h for raw in args.host for h in (DEFAULT_HOSTS if raw == "localhost" else (raw,)))
    return ServeSettings(
        db=db,
        hosts=hosts,
        allow_hosts=tuple(args.allow_host),
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        keep_content=args.keep_content,
        # Rounded up, so a tiny positive limit is still at least one byte, never "refuse all".
        max_body=math.ceil(args.max_body_mib * MIB),
        workers=default_workers() if args.workers is None else args.workers,
        retention=RetentionPolicy(
            max_age_days=args.retain_days or None,
            max_bytes=math.ceil(args.retain_mib * MIB) or None,
        ),
    )


def _serve(args: argparse.Namespace, db: Path) -> int:
    import asyncio  # here, not at the top: the read commands start faster without it

    from agentwatch.serve import StartupError, serve
    from agentwatch.store.connect import StoreError

    import logging

    logging.basicConfig(level=logging.INFO, format="agentwatch: %(message)s", stream=sys.stderr)
    settings = serve_settings(args, db)
    try:
        return asyncio.run(serve(settings))
    except (StartupError, StoreError) as exc:
        print(f"agentwatch: {exc}", file=sys.stderr)
        return 1


def _status(args: argparse.Namespace, db: Path) -> int:
    from agentwatch.query.status import status_report
    from agentwatch.report.render import status_json
    from agentwatch.store.connect import wal_reset_bug_affected

    report = status_json(status_report(db))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_status_text(report, wal_reset_bug_affected(sqlite3.sqlite_version), db.exists()))
    return 1 if "error" in report else 0


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
        lines.append(f"  export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:{DEFAULT_HTTP_PORT}")
        return "\n".join(lines)
    header = f"{'agent':<20} {'log records':>12} {'metric points':>14} {'spans':>10}  last received (UTC)"
    lines.append(header)
    for a in report["agents"]:
        last = or_unknown(a["last_received"])
        lines.append(f"{printable(a['agent']):<20} {a['logs']:>12,} {a['metric_points']:>14,} {a['spans']:>10,}  {last}")
    return "\n".join(lines)


def _summary_period(args: argparse.Namespace) -> Any:
    from agentwatch.query.period import PeriodError, parse_date, period, today

    if args.date and (args.since or args.until):
        raise PeriodError("give --date, or --since/--until, not both")
    if args.date:
        day = parse_date(args.date)
        return period(day, day, args.tz)
    until = parse_date(args.until) if args.until else today(args.tz)
    since = parse_date(args.since) if args.since else until
    return period(since, until, args.tz)


def _summary(args: argparse.Namespace, db: Path) -> int:
    from agentwatch.query.period import PeriodError
    from agentwatch.query.reader import snapshot
    from agentwatch.query.summary import Summary, summary
    from agentwatch.report.render import summary_json, summary_text
    from agentwatch.store.connect import StoreError

    try:
        chosen = _summary_period(args)
    except PeriodError as exc:
        print(f"agentwatch: {exc}", file=sys.stderr)
        return 2
    try:
        if db.exists():
            with snapshot(db) as conn:
                result = summary(conn, chosen)
        else:  # nothing recorded yet: an empty summary, and no database created
            result = Summary.empty(chosen)
    except StoreError as exc:
        print(f"agentwatch: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary_json(result), indent=2))
    else:
        print(summary_text(result, args.by))
    return 0


def _sessions(args: argparse.Namespace, db: Path) -> int:
    import datetime as dt

    from agentwatch.query.period import PeriodError, parse_date, period, today, zone
    from agentwatch.query.reader import snapshot
    from agentwatch.query.sessions import sessions
    from agentwatch.report.render import session_json, sessions_text
    from agentwatch.store.connect import StoreError

    try:
        tz, _ = zone(args.tz)
        since = parse_date(args.since) if args.since else today(args.tz) - dt.timedelta(days=7)
        span = period(since, since, args.tz)
    except PeriodError as exc:
        print(f"agentwatch: {exc}", file=sys.stderr)
        return 2
    rows = []
    try:
        if db.exists():
            with snapshot(db) as conn:
                rows = sessions(conn, span.start_ns, 2**63 - 1)
    except StoreError as exc:
        print(f"agentwatch: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([session_json(r, tz) for r in rows], indent=2))
    else:
        print(sessions_text(rows, tz, since.isoformat()))
    return 0


def _reindex(db: Path) -> int:
    from agentwatch.reindex import ProgressBar, reindex_db
    from agentwatch.store.connect import StoreError

    if not db.exists():
        print(f"agentwatch: no database at {db}; nothing to reindex", file=sys.stderr)
        return 1
    try:
        result = reindex_db(db, ProgressBar())
    except KeyboardInterrupt:
        print("\nagentwatch: reindex interrupted; the previous figures are unchanged", file=sys.stderr)
        return 130
    except (StoreError, sqlite3.Error) as exc:
        print(f"agentwatch: reindex failed, the previous figures are unchanged: {exc}", file=sys.stderr)
        return 1
    kept = ""
    if result.kept_before_ns is not None:
        kept = f"; figures before {_iso_ns(result.kept_before_ns)} kept as they were (their rows were pruned)"
    print(f"reindexed {result.batches:,} batches into {result.facts:,} facts{kept}")
    return 0


def _iso_ns(ns: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).isoformat(timespec="minutes")
