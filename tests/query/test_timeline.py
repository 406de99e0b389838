"""query.timeline: one session's calls and tools, in the order they happened.

Claude Code's capture (tests/fixtures/README.md): a title call (input 210, output
12), three calls with tools (input 1234 + 4321 cache read + 567 cache write = 6,122,
output 87), a file write (Write) and a shell call (Bash). The order is that of the
events' own timestamps in the capture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from agentwatch.query.reader import Reader
from agentwatch.query.sessions import sessions
from agentwatch.query.timeline import timeline


def test_a_session_timeline_lists_its_calls_and_tools_in_time_order(
    tmp_path: Path, replayed: Callable[..., Path]
) -> None:
    db = replayed(tmp_path / "agentwatch.db", "claude-code/http_protobuf_delta", "codex/http_binary_logprompt")
    with Reader(db) as reader:
        (claude,) = [s for s in reader.read(sessions, 0, 2**63 - 1) if s.agent == "claude-code"]
        line = reader.read(timeline, claude.key)
    assert line is not None
    assert (line.agent, line.session) == ("claude-code", claude.id)
    assert [(a.kind, a.name or a.input_tokens) for a in line.items] == [
        ("request", 210), ("tool", "Write"), ("request", 6122), ("tool", "Bash"), ("request", 6122), ("request", 6122),
    ]  # fmt: skip
    assert [a.time_ns for a in line.items] == sorted(a.time_ns for a in line.items)
    assert {a.session for a in line.items} == {claude.id}  # Codex's calls are not in it
    assert line.first_ns == claude.start_ns and line.last_ns == claude.end_ns
    assert line.labels == claude.labels


def test_an_unknown_session_has_no_timeline(tmp_path: Path, replayed: Callable[..., Path]) -> None:
    db = replayed(tmp_path / "agentwatch.db", "codex/http_binary_logprompt")
    with Reader(db) as reader:
        assert reader.read(timeline, 999_999) is None
