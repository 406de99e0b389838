"""The JSON figures of `summary` and `sessions`, written out here rather than imported
from agentwatch (a test must not take its expectations from the code under test)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

# The figures M, in issue 4's order.
M = [
    "sessions", "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "reasoning_tokens", "cost_usd", "lines_added", "lines_removed",
    "commits", "pull_requests", "tool_calls", "tool_accepted", "tool_rejected",
]  # fmt: skip
S = 10**9


def at(text: str) -> int:
    """Unix nanoseconds of an ISO time in UTC, written without its offset (whole seconds)."""
    return int(datetime.fromisoformat(text + "+00:00").timestamp()) * S


def expect(sessions: int, **known: Any) -> dict[str, Any]:
    """A row's figures: the known ones given, every other measure unknown (None)."""
    assert set(known) <= set(M[1:])
    out: dict[str, Any] = {"sessions": sessions, **dict.fromkeys(M[1:]), **known}
    if out["cost_usd"] is not None:
        out["cost_usd"] = pytest.approx(out["cost_usd"])
    return out


def strip(row: dict[str, Any]) -> dict[str, Any]:
    """A row's figures without its labels (agent, model, date)."""
    return {k: v for k, v in row.items() if k in M}
