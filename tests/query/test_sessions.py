"""query.sessions and `agentwatch sessions --json`: one row per session, its figures typed.

Claude Code's capture (tests/fixtures/README.md): 4 calls (title + 3), input 210 +
3 x (1234 + 4321 + 567) = 18,576, output 12 + 3 x 87 = 273, cache read 3 x 4321 =
12,963, cache write 3 x 567 = 1,701, 2 tools, both accepted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

from agentwatch.query.figures import Figures
from agentwatch.query.reader import Reader
from agentwatch.query.sessions import sessions

# `sessions --json` as scripts read it: these keys in this order (the summary's
# figures without "sessions"), written out rather than imported.
KEYS = [
    "agent", "id", "start", "end", "models", "labels",
    "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_usd", "lines_added", "lines_removed", "commits", "pull_requests",
    "tool_calls", "tool_accepted", "tool_rejected",
]  # fmt: skip


def test_a_session_row_carries_typed_figures_none_where_unreported(
    tmp_path: Path, replayed: Callable[..., Path]
) -> None:
    db = replayed(tmp_path / "agentwatch.db", "claude-code/http_protobuf_delta")
    with Reader(db) as reader:
        (row,) = reader.read(sessions, 0, 2**63 - 1)
    f = row.figures
    assert isinstance(f, Figures)
    assert (f.sessions, f.requests, f.errors, f.input_tokens, f.output_tokens) == (1, 4, 0, 18_576, 273)
    assert (f.cache_read_tokens, f.cache_write_tokens, f.tool_calls, f.tool_accepted) == (12_963, 1_701, 2, 2)
    assert (f.reasoning_tokens, f.commits, f.pull_requests) == (None, None, None)  # Claude sends none
    assert row.models == ("claude-opus-4-8",)


def test_sessions_json_keeps_its_keys_and_their_order(tmp_path: Path, replayed: Callable[..., Path]) -> None:
    db = replayed(tmp_path / "agentwatch.db", "claude-code/http_protobuf_delta")
    out = subprocess.run(
        [sys.executable, "-m", "agentwatch", "sessions", "--json", "--since", "2026-11-01", "--tz", "UTC", "--db", str(db)],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    (row,) = json.loads(out.stdout)
    assert list(row) == KEYS
    assert (row["agent"], row["models"], row["requests"], row["input_tokens"]) == (
        "claude-code", ["claude-opus-4-8"], 4, 18_576,
    )  # fmt: skip
    assert row["reasoning_tokens"] is None and row["start"].startswith("2026-11-23T06:29:37")
