"""`agentwatch sessions`: one row per session active since a day."""

from __future__ import annotations

import argparse
import datetime as dt

from agentwatch.commands import UsageError, database, fail, how_to_send_to
from agentwatch.display import strict_json

DEFAULT_DAYS = 7


def run(args: argparse.Namespace) -> int:
    from agentwatch.query.period import PeriodError, parse_date, period, today, zone
    from agentwatch.query.reader import snapshot
    from agentwatch.query.sessions import sessions
    from agentwatch.report.render import session_json, sessions_text
    from agentwatch.store.connect import StoreError

    try:
        tz, _ = zone(args.tz)
        since = parse_date(args.since) if args.since else today(args.tz) - dt.timedelta(days=DEFAULT_DAYS)
        span = period(since, since, args.tz)
    except PeriodError as exc:
        raise UsageError(str(exc)) from None
    db = database(args)
    try:
        with snapshot(db) as conn:
            rows = sessions(conn, span.start_ns, 2**63 - 1)
    except StoreError as exc:
        return fail(str(exc))
    if args.json:
        print(strict_json([session_json(r, tz) for r in rows]))
    else:
        print(sessions_text(rows, tz, since.isoformat(), how_to_send_to(db)))
    return 0
