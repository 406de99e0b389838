"""`agentwatch serve`: the flags as ServeSettings, the database checked, then agentwatch.serve."""

from __future__ import annotations

import argparse
import math
import sys

from agentwatch.commands import database, fail
from agentwatch.config import DEFAULT_HOSTS, MIB, RetentionPolicy, ServeSettings, default_workers


def settings(args: argparse.Namespace) -> ServeSettings:
    """The parsed (already range-checked) serve flags as settings; 0 retention means no limit."""
    hosts: tuple[str, ...] = DEFAULT_HOSTS
    if args.host:
        hosts = tuple(h for raw in args.host for h in (DEFAULT_HOSTS if raw == "localhost" else (raw,)))
    return ServeSettings(
        db=database(args),
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


def run(args: argparse.Namespace) -> int:
    import asyncio  # here, not at the top: the read commands start faster without these
    import logging

    from agentwatch.serve import StartupError, serve
    from agentwatch.store.connect import StoreError, check_database

    logging.basicConfig(level=logging.INFO, format="agentwatch: %(message)s", stream=sys.stderr)
    chosen = settings(args)
    try:
        # Before the lock: a refused file must not get a `.lock` beside it.
        check_database(chosen.db, create=True)
        return asyncio.run(serve(chosen))
    except (StartupError, StoreError) as exc:
        return fail(str(exc))
