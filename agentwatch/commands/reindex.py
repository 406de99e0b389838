"""`agentwatch reindex`: derive every figure again from the stored rows, as the one writer."""

from __future__ import annotations

import argparse
import sys

from agentwatch.commands import database, fail


def run(args: argparse.Namespace) -> int:
    import sqlite3

    from agentwatch.reindex import ProgressBar, reindex_db
    from agentwatch.store.connect import StoreError, check_database

    db = database(args)
    try:
        check_database(db)  # before the lock: a refused file gets no `.lock`, and is never adopted
    except StoreError as exc:
        return fail(f"{exc}; nothing to reindex" if not db.exists() else str(exc))
    try:
        result = reindex_db(db, ProgressBar())  # the lock, the one writer, one transaction
    except KeyboardInterrupt:
        print("\nagentwatch: reindex interrupted; the previous figures are unchanged", file=sys.stderr)
        return 130
    except (StoreError, sqlite3.Error) as exc:
        return fail(f"reindex failed, the previous figures are unchanged: {exc}")
    print(f"reindexed {result.batches:,} batches into {result.facts:,} facts{_kept(result.kept_before_ns)}")
    return 0


def _kept(kept_before_ns: int | None) -> str:
    if kept_before_ns is None:
        return ""
    import datetime as dt  # here: every other command starts faster without it
    when = dt.datetime.fromtimestamp(kept_before_ns / 1e9, dt.timezone.utc).isoformat(timespec="minutes")
    return f"; figures before {when} kept as they were (their rows were pruned)"
