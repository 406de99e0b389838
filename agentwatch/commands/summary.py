"""`agentwatch summary`: the figures of a period of whole local days."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from agentwatch.commands import UsageError, database, fail, how_to_send_to
from agentwatch.display import strict_json

if TYPE_CHECKING:
    from agentwatch.query.period import Period


def chosen_period(args: argparse.Namespace) -> Period:
    """--date, or --since and/or --until (each defaulting to the other, --until to today)."""
    from agentwatch.query.period import parse_date, period, today

    if args.date and (args.since or args.until):
        raise UsageError("give --date, or --since/--until, not both")
    if args.date:
        day = parse_date(args.date)
        return period(day, day, args.tz)
    until = parse_date(args.until) if args.until else today(args.tz)
    since = parse_date(args.since) if args.since else until
    if since > until and not args.until:  # the user gave no --until to blame
        raise UsageError(f"--since {since} is after today ({until})")
    return period(since, until, args.tz)


def run(args: argparse.Namespace) -> int:
    from agentwatch.query.period import PeriodError
    from agentwatch.query.reader import snapshot
    from agentwatch.query.summary import summary
    from agentwatch.report.render import summary_json, summary_text
    from agentwatch.store.connect import StoreError

    try:
        span = chosen_period(args)
    except PeriodError as exc:
        raise UsageError(str(exc)) from None
    db = database(args)
    try:
        with snapshot(db) as conn:
            result = summary(conn, span)
    except StoreError as exc:
        return fail(str(exc))
    if args.json:
        print(strict_json(summary_json(result)))
    else:
        print(summary_text(result, args.by, how_to_send_to(db)))
    return 0
