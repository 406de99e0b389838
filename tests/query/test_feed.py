"""query.feed: the newest model calls and tool calls, page by page from a cursor.

Replayed captures through a real listener (tests/fixtures/README.md, "Ground truth
of the stub"): every run is a title call where the agent makes one, three calls with
tools, a file-write tool and a shell tool.
- Claude Code: the title call reports input 210, output 12; each call with tools
  input 1234 + cache read 4321 + cache write 567 = 6,122 (GenAI style: cache inside
  input), output 87. Cost as Claude priced it (Opus $5 / $25 / $0.50 / $6.25 per
  million): title 210 x 5 + 12 x 25 = 1,350 -> $0.00135; a call 1234 x 5 + 87 x 25 +
  4321 x 0.5 + 567 x 6.25 = 14,049.25 -> $0.01404925. Tools Write and Bash, accepted.
- Codex: 3 calls of input 5555 (4096 of them cached), output 120 (64 of them
  reasoning), no cost; tools apply_patch and exec_command, approved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from agentwatch.query.feed import Activity, Cursor, feed
from agentwatch.query.reader import Reader
from support.listener import Listener

CLAUDE = "claude-code/http_protobuf_delta"
CODEX = "codex/http_binary_logprompt"
TITLE = ("request", 210, 12, 0, 0)
CLAUDE_CALL = ("request", 6122, 87, 4321, 567)


def tokens(a: Activity) -> tuple[str, int | None, int | None, int | None, int | None]:
    return (a.kind, a.input_tokens, a.output_tokens, a.cache_read_tokens, a.cache_write_tokens)


def test_without_a_cursor_the_newest_calls_come_in_time_order_with_their_figures(
    listener: Listener, send: Callable[..., None]
) -> None:
    send(listener, CLAUDE)
    with Reader(listener.db) as reader:
        page = reader.read(feed)
    items = page.items
    assert [a.kind for a in items].count("request") == 4  # title + 3
    assert [(a.name, a.decision, a.success) for a in items if a.kind == "tool"] == [
        ("Write", "accept", True), ("Bash", "accept", True),
    ]  # fmt: skip
    assert sorted(tokens(a) for a in items if a.kind == "request") == sorted([TITLE] + [CLAUDE_CALL] * 3)
    assert [a.time_ns for a in items] == sorted(a.time_ns for a in items)
    assert {(a.agent, a.model) for a in items} == {("claude-code", "claude-opus-4-8")}
    assert len({a.session for a in items}) == 1
    costs = sorted(a.cost_usd for a in items if a.kind == "request")
    assert costs == pytest.approx([0.00135] + [0.01404925] * 3)
    assert all(a.duration_ms is not None and a.error is None for a in items)
    assert page.more is False


def test_a_later_page_holds_calls_older_than_those_already_shown(
    listener: Listener, send: Callable[..., None]
) -> None:
    # Codex ran at 06:31:46 UTC and arrives first; Claude's run is older (06:29:37) but
    # arrives after. A cursor on time would skip Claude's calls; the feed's must not.
    send(listener, CODEX)
    with Reader(listener.db) as reader:
        first = reader.read(feed)
        assert [a.agent for a in first.items] == ["codex"] * 5  # 3 calls + 2 tools
        assert reader.read(feed, first.cursor).items == ()  # nothing new yet
        send(listener, CLAUDE)
        second = reader.read(feed, first.cursor)
    assert [a.agent for a in second.items] == ["claude-code"] * 6  # 4 calls + 2 tools, none repeated
    assert max(a.time_ns for a in second.items) < min(a.time_ns for a in first.items)
    codex_calls = [(a.input_tokens, a.output_tokens, a.cache_read_tokens, a.reasoning_tokens, a.cost_usd)
                   for a in first.items if a.kind == "request"]  # fmt: skip
    assert codex_calls == [(5555, 120, 4096, 64, None)] * 3
    assert {a.name for a in first.items if a.kind == "tool"} == {"apply_patch", "exec_command"}


def test_pages_of_a_limit_cover_every_call_once(listener: Listener, send: Callable[..., None]) -> None:
    send(listener, CLAUDE, CODEX)  # 6 + 5 = 11 calls and tools
    with Reader(listener.db) as reader:
        pages = [reader.read(feed, Cursor(0), limit=4)]
        while pages[-1].more:
            pages.append(reader.read(feed, pages[-1].cursor, limit=4))
        everything = reader.read(feed, limit=100)
    assert [len(p.items) for p in pages] == [4, 4, 3]  # 11 = 4 + 4 + 3
    ids = [a.id for p in pages for a in p.items]
    assert len(ids) == len(set(ids)) == 11
    assert set(ids) == {a.id for a in everything.items}


def test_a_call_described_by_an_event_and_a_span_is_shown_once(
    tmp_path: Path, replayed: Callable[..., Path]
) -> None:
    # With the enhanced-telemetry beta Claude sends each call and tool as an event and
    # as a span; the session counts the events, and the feed shows those only.
    db = replayed(tmp_path / "agentwatch.db", "claude-code/enhanced_beta_traces_http_protobuf")
    with Reader(db) as reader:
        items = reader.read(feed).items
    assert [a.kind for a in items].count("request") == 4  # not 8
    assert [a.name for a in items if a.kind == "tool"] == ["Write", "Bash"]  # not 4 tools
    assert sorted(tokens(a) for a in items if a.kind == "request") == sorted([TITLE] + [CLAUDE_CALL] * 3)


def test_a_cursor_past_the_newest_fact_starts_over_from_the_newest(
    tmp_path: Path, replayed: Callable[..., Path]
) -> None:
    db = replayed(tmp_path / "agentwatch.db", CODEX)
    with Reader(db) as reader:
        page = reader.read(feed, Cursor(10**9))  # as after a reindex renumbered the facts
    assert len(page.items) == 5
    assert page.cursor.after_id < 10**9
