"""store.facts: which model a model-less tool is filed under, and precedence per family.

Facts are stored through insert_facts on a real migrated SQLite file, each list of
facts one batch (one transaction), as the writer stores them.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from agentwatch.records import Fact, Kind
from agentwatch.store import schema
from agentwatch.store.facts import insert_facts

OPUS, HAIKU = "claude-opus-4-8", "claude-haiku-4-5"


def at(clock: str) -> int:
    return int(datetime.fromisoformat(f"2026-11-23T{clock}").replace(tzinfo=timezone.utc).timestamp()) * 10**9


def fact(key: str, kind: Kind, clock: str, session: str = "s1", **fields: Any) -> Fact:
    return Fact(key=key.encode().ljust(16, b"_"), kind=kind, agent="claude-code", resource_key=b"r" * 16,
                time_ns=at(clock), session=session, **fields)  # fmt: skip


def call(key: str, clock: str, model: str, **fields: Any) -> Fact:
    return fact(key, Kind.REQUEST, clock, model=model, requests=1, errors=0, **fields)


def tool(key: str, clock: str, session: str = "s1", **fields: Any) -> Fact:
    return fact(key, Kind.TOOL, clock, session, name="Bash", tool_calls=1, **fields)


def store(conn: sqlite3.Connection, *facts: Fact) -> None:
    conn.execute("BEGIN")
    insert_facts(conn, facts)
    conn.execute("COMMIT")


@pytest.fixture(scope="module")
def blank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty database; each test works on a copy (migrating 120 times is slow)."""
    path = tmp_path_factory.mktemp("blank") / "blank.db"
    conn = sqlite3.connect(path, isolation_level=None)
    schema.migrate(conn)
    conn.close()
    return path


def open_copy(blank: Path, path: Path) -> sqlite3.Connection:
    shutil.copyfile(blank, path)
    return sqlite3.connect(path, isolation_level=None)


@pytest.fixture
def conn(blank: Path, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = open_copy(blank, tmp_path / "facts.db")
    yield c
    c.close()


def models_of_tools(conn: sqlite3.Connection) -> dict[str, str]:
    rows = conn.execute("SELECT key, model FROM facts WHERE kind = 'tool'").fetchall()
    return {bytes(k).rstrip(b"_").decode(): m for k, m in rows}


def by_model(conn: sqlite3.Connection, table: str) -> dict[str, tuple[Any, ...]]:
    rows = conn.execute(f"SELECT model, sum(requests), sum(tool_calls) FROM {table} GROUP BY model").fetchall()
    return {m: tuple(rest) for m, *rest in rows}


# Calls: a1 opus at 10:00, a2 haiku at 10:05. Tools: t0 at 09:59 (before every call: the
# first call after it, opus), t1 at 10:01 (opus, the call at or before), t2 at 10:06 (haiku).
CALLS = [call("a1", "10:00:00", OPUS), call("a2", "10:05:00", HAIKU)]
TOOLS = [tool("t0", "09:59:00"), tool("t1", "10:01:00"), tool("t2", "10:06:00")]
FILED = {"t0": OPUS, "t1": OPUS, "t2": HAIKU}
# opus: requests 1 (a1), tool calls 2 (t0, t1); haiku: requests 1 (a2), tool calls 1 (t2)
ROLLED = {OPUS: (1, 2), HAIKU: (1, 1)}


def test_a_tool_takes_the_call_at_or_before_it_else_the_first_after(conn: sqlite3.Connection) -> None:
    store(conn, *TOOLS, *CALLS)
    assert models_of_tools(conn) == FILED
    assert by_model(conn, "rollups") == by_model(conn, "session_rollups") == ROLLED


@pytest.mark.parametrize("order", list(itertools.permutations(range(5))), ids=lambda o: "".join(map(str, o)))
def test_filing_does_not_depend_on_arrival_order(blank: Path, tmp_path: Path, order: tuple[int, ...]) -> None:
    # Each fact in a batch of its own, in every one of the 5! = 120 arrival orders.
    facts = [*CALLS, *TOOLS]
    conn = open_copy(blank, tmp_path / "order.db")
    for i in order:
        store(conn, facts[i])
    assert models_of_tools(conn) == FILED
    # No model-less row is left behind, in either rollup (a moved tool empties its old row).
    assert by_model(conn, "rollups") == by_model(conn, "session_rollups") == ROLLED
    conn.close()


def test_a_session_without_a_call_keeps_its_tools_model_less_until_one_arrives(conn: sqlite3.Connection) -> None:
    store(conn, tool("t0", "09:59:00"))
    assert models_of_tools(conn) == {"t0": ""}
    assert by_model(conn, "session_rollups") == {"": (None, 1)}
    store(conn, call("a1", "10:30:00", OPUS))
    assert models_of_tools(conn) == {"t0": OPUS}
    assert by_model(conn, "rollups") == by_model(conn, "session_rollups") == {OPUS: (1, 1)}


def test_a_tool_of_another_session_is_not_filed_under_this_sessions_call(conn: sqlite3.Connection) -> None:
    store(conn, tool("t9", "10:01:00", session="other"), *CALLS)
    assert models_of_tools(conn) == {"t9": ""}


def test_a_record_that_names_its_model_wins_over_the_filed_one(conn: sqlite3.Connection) -> None:
    store(conn, *CALLS, tool("t1", "10:01:00"))
    assert models_of_tools(conn) == {"t1": OPUS}
    store(conn, tool("t1", "10:01:00", model=HAIKU))  # the same tool call, now naming its model
    assert models_of_tools(conn) == {"t1": HAIKU}
    store(conn, call("a0", "09:00:00", OPUS))  # an earlier call arriving later files nothing anew
    assert models_of_tools(conn) == {"t1": HAIKU}


# -- precedence per family -------------------------------------------------------------------
def test_a_family_only_a_cruder_source_carries_is_counted_from_it(conn: sqlite3.Connection) -> None:
    # The call event (rank 0) carries input and output tokens but no reasoning; a usage
    # metric (rank 1) repeats input (400) and carries reasoning 0.
    #   input: rank 0 carries it → 100 (the metric's 400 is a repeat, not added)
    #   reasoning: only rank 1 carries it → 0, not unknown
    store(
        conn,
        call("a1", "10:00:00", OPUS, input_tokens=100, output_tokens=10),
        fact("m1", Kind.USAGE, "10:00:00", model=OPUS, rank=1, input_tokens=400, reasoning_tokens=0),
    )
    ranks = conn.execute("SELECT calls_rank, input_tokens_rank, reasoning_tokens_rank, cost_rank FROM sessions "
                         "WHERE sid = 's1'").fetchone()  # fmt: skip
    assert ranks == (0, 0, 1, 99)  # cost: no source carries it
