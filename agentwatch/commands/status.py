"""`agentwatch status`: is a listener running on the database, and what has it stored."""

from __future__ import annotations

import argparse

from agentwatch.commands import database
from agentwatch.display import strict_json


def run(args: argparse.Namespace) -> int:
    from agentwatch.query.status import status_report
    from agentwatch.report.status import status_json, status_text

    report = status_report(database(args))
    if args.json:
        print(strict_json(status_json(report)))
    else:
        print(status_text(report))
    return 1 if report.error is not None else 0
