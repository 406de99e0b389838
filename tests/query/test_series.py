"""query.series: tokens, requests and cost per local hour or day, from the rollups.

Replayed captures (tests/fixtures/README.md, "Ground truth of the stub"), each
session at its own recorded time on 2026-11-23 (UTC):
- claude-code/http_protobuf_delta  06:29:37  and  claude-code/grpc_delta  06:30:12:
  4 calls each (title + 3); input (Claude's additive figures summed, GenAI style)
  210 + 3 x (1234 + 4321 + 567) = 210 + 3 x 6122 = 18,576; output 12 + 3 x 87 = 273;
  tokens 18,576 + 273 = 18,849; cost as Claude priced it (Opus: $5 / $25 / $0.50 /
  $6.25 per million input / output / cache read / cache write):
  title 210 x 5 + 12 x 25 = 1,350 -> $0.00135; a call 1234 x 5 + 87 x 25 + 4321 x 0.5
  + 567 x 6.25 = 14,049.25 -> $0.01404925; session 0.00135 + 3 x 0.01404925 = $0.04349775.
- codex/http_binary_logprompt  06:31:46: 3 calls, input 3 x 5555 = 16,665, output
  3 x 120 = 360, tokens 17,025, no cost reported.
- goose/http_protobuf_default  08:23:40: 3 calls (the naming call sends nothing),
  input 3 x 3210 = 9,630, output 3 x 77 = 231, tokens 9,861, no cost reported.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable

import pytest

from agentwatch.query.reader import Reader
from agentwatch.query.series import Series, series
from agentwatch.query.window import between, last_days

S = 10**9
CLAUDE_TOKENS, CLAUDE_COST = 18_849, 0.04349775
CODEX_TOKENS, GOOSE_TOKENS = 17_025, 9_861


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp()) * S


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, replayed: Callable[..., Path]) -> Path:
    return replayed(
        tmp_path_factory.mktemp("series") / "agentwatch.db",
        "claude-code/http_protobuf_delta",
        "claude-code/grpc_delta",
        "codex/http_binary_logprompt",
        "goose/http_protobuf_default",
    )


def points(result: Series) -> list[tuple[int, int | None, int | None, float | None]]:
    return [
        (p.figures.sessions, p.figures.requests, p.tokens,
         None if p.figures.cost_usd is None else round(p.figures.cost_usd, 8))
        for p in result.points
    ]  # fmt: skip


def test_per_utc_hour_every_hour_is_there_and_an_empty_one_is_unknown(db: Path) -> None:
    with Reader(db) as reader:
        result = reader.read(series, between(at("2026-11-23T06:00:00+00:00"), at("2026-11-23T09:00:00+00:00"), "UTC"))
    assert result.hourly
    assert [p.start_ns for p in result.points] == [at(f"2026-11-23T0{h}:00:00+00:00") for h in (6, 7, 8)]
    assert points(result) == [
        # 06:00: both Claude sessions and Codex: 4 + 4 + 3 = 11 calls; 2 x 18,849 + 17,025 = 54,723
        # tokens; cost 2 x 0.04349775 = 0.0869955 (Codex reports none)
        (3, 11, 2 * CLAUDE_TOKENS + CODEX_TOKENS, round(2 * CLAUDE_COST, 8)),
        (0, None, None, None),  # 07:00: nothing recorded
        (1, 3, GOOSE_TOKENS, None),  # 08:00: goose, which reports no cost
    ]


def test_in_a_half_hour_zone_the_local_hours_split_what_one_utc_hour_holds(db: Path) -> None:
    # Asia/Kolkata is UTC+5:30: 11:00 IST = [05:30, 06:30) UTC holds the 06:29:37 Claude session;
    # 12:00 IST = [06:30, 07:30) UTC holds the 06:30:12 Claude session and Codex at 06:31:46.
    window = between(at("2026-11-23T11:00:00+05:30"), at("2026-11-23T13:00:00+05:30"), "Asia/Kolkata")
    with Reader(db) as reader:
        result = reader.read(series, window)
    assert points(result) == [
        (1, 4, CLAUDE_TOKENS, CLAUDE_COST),
        (2, 4 + 3, CLAUDE_TOKENS + CODEX_TOKENS, CLAUDE_COST),
    ]


def test_per_day_over_the_last_7_days_only_the_day_of_the_runs_has_figures(db: Path) -> None:
    window = last_days(7, "UTC", now_ns=at("2026-11-23T12:00:00+00:00"))
    with Reader(db) as reader:
        result = reader.read(series, window)
    assert not result.hourly
    assert points(result) == [(0, None, None, None)] * 6 + [
        # 4 sessions; 4 + 4 + 3 + 3 = 14 calls; 54,723 + 9,861 = 64,584 tokens
        (4, 14, 2 * CLAUDE_TOKENS + CODEX_TOKENS + GOOSE_TOKENS, round(2 * CLAUDE_COST, 8)),
    ]
