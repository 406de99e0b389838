"""Command line: the argparse tree and the dispatch to agentwatch.commands, nothing else."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from agentwatch import __version__
from agentwatch.commands import UsageError, reindex, serve, sessions, status, summary
from agentwatch.config import (
    DEFAULT_GRPC_PORT,
    DEFAULT_HTTP_PORT,
    DEFAULT_MAX_BODY,
    DEFAULT_RETAIN_BYTES,
    DEFAULT_RETAIN_DAYS,
    MIB,
)
from agentwatch.paths import DB_ENV, default_db_path

DATES = "YYYY-MM-DD or YYYYMMDD"  # query.period.DATE_FORMS, written out: the parser loads no query code

# Limits on the numeric flags, each from what breaks beyond it.
MAX_BODY_MIB = 1024  # gRPC's max_receive_message_length is an int32: 2048 MiB overflows it
MAX_RETAIN_DAYS = 36_500  # a century; far more overflows the nanosecond cutoff SQLite compares
MAX_RETAIN_MIB = 16 * 1024 * 1024  # 16 TiB, a bound only so the byte count stays an ordinary int
MAX_WORKERS = 8  # row builders beyond this wait on the one writer anyway


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        default=None,
        help=f"SQLite database (default: ${DB_ENV}, else {default_db_path()})",
    )


# Type functions raise ArgumentTypeError with their own message: on a bare ValueError
# argparse would print "invalid <function name> value".
def port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (0-65535; 0 = any free port)") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535 (0 = any free port), not {value}")
    return number


def finite(value: str) -> float:
    # float() takes "nan" and "inf", which no limit or age means; argparse shows this message.
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{value!r} is not a finite number")
    return number


def max_body_mib(value: str) -> float:
    mib = finite(value)
    if not 0 < mib <= MAX_BODY_MIB:
        raise argparse.ArgumentTypeError(
            f"the size limit is more than 0 and at most {MAX_BODY_MIB} MiB, not {value}"
        )
    return mib


def retain_days(value: str) -> float:
    days = finite(value)
    if not 0 <= days <= MAX_RETAIN_DAYS:
        raise argparse.ArgumentTypeError(f"days are 0 (keep forever) to {MAX_RETAIN_DAYS}, not {value}")
    return days


def retain_mib(value: str) -> float:
    mib = finite(value)
    if not 0 <= mib <= MAX_RETAIN_MIB:
        raise argparse.ArgumentTypeError(f"the size is 0 (no limit) to {MAX_RETAIN_MIB} MiB, not {value}")
    return mib


def workers(value: str) -> int:
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
    _serve_flags(_command(sub, "serve", serve.run, f"run the local OTLP listener (HTTP :{DEFAULT_HTTP_PORT}, gRPC :{DEFAULT_GRPC_PORT})"))

    status_p = _command(sub, "status", status.run, "is a listener running, and what has it stored")
    status_p.add_argument("--json", action="store_true", help="machine-readable output")

    summary_p = _command(sub, "summary", summary.run, "sessions, requests, tokens, cost and output for a period")
    # Written out: argparse cannot say that --date excludes --since/--until, or that either of those may come alone.
    summary_p.usage = "agentwatch summary [--date D | [--since D] [--until D]] [--tz ZONE] [--by agent|model|day] [--json] [--db PATH]"
    summary_p.add_argument("--date", metavar="D", help=f"one day, {DATES} (default: today)")
    summary_p.add_argument("--since", metavar="D", help=f"first day, {DATES} (inclusive; default: the --until day)")
    summary_p.add_argument("--until", metavar="D", help=f"last day, {DATES} (inclusive; default: today)")
    summary_p.add_argument("--tz", metavar="ZONE", help="IANA time zone the days are in, any case (default: this machine's)")
    summary_p.add_argument(
        "--by", choices=("agent", "model", "day"), default="agent", help="the breakdown the table shows"
    )
    summary_p.add_argument("--json", action="store_true", help="machine-readable output (all breakdowns)")

    sessions_p = _command(sub, "sessions", sessions.run, "one row per session")
    sessions_p.add_argument("--since", metavar="D", help=f"first day, {DATES} (default: 7 days ago)")
    sessions_p.add_argument("--tz", metavar="ZONE", help="IANA time zone for days and times, any case (default: this machine's)")
    sessions_p.add_argument("--json", action="store_true", help="machine-readable output")

    _command(sub, "reindex", reindex.run, "derive sessions, requests and all figures again from the stored rows (after an upgrade)")
    return parser


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    run: Callable[[argparse.Namespace], int],
    help: str,
) -> argparse.ArgumentParser:
    """A subcommand with --db, dispatched to run; its own parser reports its usage errors."""
    command = sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
    command.set_defaults(run=run, usage=command)
    _add_db(command)
    return command


def _serve_flags(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--host",
        action="append",
        metavar="H",
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
    serve.add_argument("--http-port", type=port, metavar="N", default=DEFAULT_HTTP_PORT, help="OTLP/HTTP port (0 = ephemeral)")
    serve.add_argument("--grpc-port", type=port, metavar="N", default=DEFAULT_GRPC_PORT, help="OTLP/gRPC port (0 = ephemeral)")
    serve.add_argument(
        "--keep-content",
        action="store_true",
        help="store prompts, responses and tool input/output as sent (default: keep only their length)",
    )
    serve.add_argument(
        "--workers",
        type=workers,
        metavar="N",
        default=None,
        help=f"processes that build rows while the writer inserts, 0-{MAX_WORKERS} "
        "(default: 1 with 2+ cores, else 0)",
    )
    serve.add_argument(
        "--max-body-mib",
        type=max_body_mib,
        metavar="N",
        default=DEFAULT_MAX_BODY / MIB,
        help=f"request size limit after decompression, up to {MAX_BODY_MIB} (default: %(default)g)",
    )
    serve.add_argument(
        "--retain-days",
        type=retain_days,
        metavar="N",
        default=DEFAULT_RETAIN_DAYS,
        help="keep raw rows this many days (0 = forever; default: %(default)g)",
    )
    serve.add_argument(
        "--retain-mib",
        type=retain_mib,
        metavar="N",
        default=DEFAULT_RETAIN_BYTES / MIB,
        help="prune oldest raw rows above this size (0 = no limit; default: %(default)g)",
    )


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
    # parse_args would report a subcommand's unknown flag with the top-level usage.
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        getattr(args, "usage", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return 0
    try:
        code: int = args.run(args)
    except UsageError as exc:
        args.usage.error(str(exc))  # that subcommand's usage and message, exit 2
    return code
