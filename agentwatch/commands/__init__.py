"""One module per subcommand: parsed flags → one call → an exit code.

cli.py builds the parser and dispatches to `run(args)`; a command raises UsageError
for flags that cannot be used as given, and cli shows that subcommand's usage with
it (exit 2). Everything else a command reports itself, on stderr, and returns 1.
Imports of the layers happen inside `run`, so `agentwatch --help` loads none of them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agentwatch.paths import default_db_path


class UsageError(Exception):
    """Flags that cannot be used as given; the message names them as the user typed them."""


def database(args: argparse.Namespace) -> Path:
    """--db, else $AGENTWATCH_DB, else the per-user default."""
    return args.db.expanduser() if args.db else default_db_path()


def how_to_send_to(db: Path) -> str:
    """The hint naming the listener running on db: read only for text output (JSON has
    none), so a `--json` run loads no lock-file code."""
    from agentwatch.query.status import running_listener
    from agentwatch.report.hints import how_to_send

    return how_to_send(running_listener(db))


def fail(message: str) -> int:
    print(f"agentwatch: {message}", file=sys.stderr)
    return 1
