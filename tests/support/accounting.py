"""Replay a captured scenario into a real listener and read what agentwatch derives.

The figures come from `agentwatch summary --json` and `agentwatch sessions --json`
run as separate processes against the listener's database while it is still
running: the same path a user takes. Expected values in the tests are written
by hand from the fixture README's stub table, never computed from these.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.listener import start_listener
from support.replay import FIXTURES, replay

# Every capture was made on 2026-11-23 (UTC); a week around it holds each scenario whole.
SINCE, UNTIL = "2026-11-20", "2026-11-26"


@dataclass(frozen=True)
class Derived:
    summary: dict[str, Any]
    sessions: list[dict[str, Any]]
    stderr: str

    def agent(self, name: str) -> dict[str, Any]:
        rows = [r for r in self.summary["by_agent"] if r["agent"] == name]
        assert len(rows) == 1, f"{name} not in by_agent: {[r['agent'] for r in self.summary['by_agent']]}"
        return rows[0]


def cli_json(db: Path, *args: str) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "agentwatch", *args, "--json", "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def summary_json(db: Path, since: str = SINCE, until: str = UNTIL, tz: str = "UTC") -> dict[str, Any]:
    return cli_json(db, "summary", "--since", since, "--until", until, "--tz", tz)


def replayed(tmp: Path, *scenario_ids: str) -> Derived:
    """Replay scenarios (e.g. "claude-code/grpc_delta") in order into one fresh listener."""
    db = tmp / "agentwatch.db"
    listener = start_listener(db)
    try:
        for scenario_id in scenario_ids:
            replay(FIXTURES / scenario_id, listener.http_port, listener.grpc_port)
        summary = summary_json(db)
        sessions = cli_json(db, "sessions", "--since", SINCE, "--tz", "UTC")
    finally:
        listener.stop()
    return Derived(summary, sessions, listener.stderr())


def figures(row: dict[str, Any]) -> dict[str, Any]:
    """A summary row without its labels (agent, model, date): just the figures."""
    return {k: v for k, v in row.items() if k not in ("agent", "model", "date")}
