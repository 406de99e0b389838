"""`agentwatch status`: is a listener running on the database, and what has it stored."""

from __future__ import annotations

import argparse
import json

from agentwatch.commands import database


def run(args: argparse.Namespace) -> int:
    import sqlite3

    from agentwatch.query.status import status_report
    from agentwatch.report.status import status_json, status_text
    from agentwatch.store.connect import wal_reset_bug_affected

    report = status_report(database(args))
    if args.json:
        print(json.dumps(status_json(report), indent=2))
    else:
        print(status_text(report, wal_reset_bug_affected(sqlite3.sqlite_version)))
    return 1 if report.error is not None else 0
