"""Retention: whole batches go, oldest first, and agent_totals follows exactly."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterator

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Gauge,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from agentwatch.normalise.otlp_view import ViewPolicy, batch_of
from agentwatch.records import Batch, Signal
from agentwatch.store import schema
from agentwatch.store.connect import open_writer
from agentwatch.store.retention import (
    STEP_BATCHES,
    PruneStep,
    RetentionPolicy,
    prune_step,
    release_free_pages,
    used_bytes,
)
from agentwatch.store.writer import insert_batch

from support.writer_kit import tagged_batch

NOW_NS = 1_800_000_000_000_000_000  # 2027-01-15, injected: retention never reads the clock itself
DAY_NS = 86_400 * 10**9
BY_AGE = RetentionPolicy(max_age_days=30, max_bytes=None)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = open_writer(tmp_path / "agentwatch.db")
    schema.migrate(c)
    yield c
    c.close()


def _store(conn: sqlite3.Connection, *batches: Batch) -> None:
    conn.execute("BEGIN IMMEDIATE")
    for batch in batches:
        insert_batch(conn, batch)
    conn.execute("COMMIT")


def _prune(conn: sqlite3.Connection, policy: RetentionPolicy) -> PruneStep:
    conn.execute("BEGIN IMMEDIATE")
    step = prune_step(conn, policy, NOW_NS)
    conn.execute("COMMIT")
    return step


def _gauge_batch(service: str, points: int, received_ns: int) -> Batch:
    request = ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                resource=Resource(
                    attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))]
                ),
                scope_metrics=[
                    ScopeMetrics(
                        metrics=[
                            Metric(
                                name="tagged.gauge",
                                gauge=Gauge(
                                    data_points=[
                                        NumberDataPoint(time_unix_nano=NOW_NS - DAY_NS + i, as_int=i)
                                        for i in range(points)
                                    ]
                                ),
                            )
                        ]
                    )
                ],
            )
        ]
    )
    return batch_of(Signal.METRICS, request, "grpc", received_ns, ViewPolicy())


def _totals(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
    return {(a, s): n for a, s, n in conn.execute("SELECT agent, signal, rows FROM agent_totals")}


def _batches(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    """(id, rows actually stored under it) for every batch left."""
    return conn.execute(
        "SELECT b.id, (SELECT count(*) FROM log_records l WHERE l.batch_id = b.id) "
        "+ (SELECT count(*) FROM metric_points m WHERE m.batch_id = b.id) FROM batches b ORDER BY b.id"
    ).fetchall()


def test_prune_step_deletes_whole_batches_older_than_max_age_and_decrements_totals(
    conn: sqlite3.Connection,
) -> None:
    _store(
        conn,
        tagged_batch("r", 1, received_ns=NOW_NS - 40 * DAY_NS, service="claude-code"),  # id 1: goes
        tagged_batch("r", 2, received_ns=NOW_NS - 31 * DAY_NS, service="codex_exec"),  # id 2: goes
        _gauge_batch("claude-code", 5, received_ns=NOW_NS - 31 * DAY_NS),  # id 3: goes
        tagged_batch("r", 4, received_ns=NOW_NS - 29 * DAY_NS, service="claude-code"),  # id 4: stays
        tagged_batch("r", 5, received_ns=NOW_NS - 30 * DAY_NS, service="codex_exec"),  # id 5: exactly 30 d
        tagged_batch("r", 6, received_ns=NOW_NS - 1 * DAY_NS, service="codex_exec"),  # id 6: stays
    )
    assert _totals(conn) == {
        ("claude-code", "logs"): 40,
        ("claude-code", "metrics"): 5,
        ("codex", "logs"): 60,
    }

    assert _prune(conn, BY_AGE) == PruneStep(batches=3, rows=20 + 20 + 5, more=False)

    assert _batches(conn) == [(4, 20), (5, 20), (6, 20)]
    assert _totals(conn) == {
        ("claude-code", "logs"): 20,
        ("claude-code", "metrics"): 0,
        ("codex", "logs"): 40,
    }
    assert _prune(conn, BY_AGE) == PruneStep(0, 0, more=False)


def test_a_step_deletes_at_most_step_batches_and_says_there_is_more(conn: sqlite3.Connection) -> None:
    old = NOW_NS - 60 * DAY_NS
    _store(conn, *(tagged_batch("r", req, records=1, received_ns=old) for req in range(STEP_BATCHES + 50)))
    assert _prune(conn, BY_AGE) == PruneStep(STEP_BATCHES, STEP_BATCHES, more=True)
    assert [row[0] for row in _batches(conn)] == list(range(STEP_BATCHES + 1, STEP_BATCHES + 51))
    assert _prune(conn, BY_AGE) == PruneStep(50, 50, more=False)
    assert _batches(conn) == []
    assert _totals(conn) == {("tagged-r", "logs"): 0}


def test_the_size_limit_prunes_oldest_batches_first_and_only_as_many_as_needed(
    conn: sqlite3.Connection,
) -> None:
    # Records of ~3 KB: one per 4 KiB leaf page, so each 20-record batch holds ~20 pages.
    _store(conn, *(tagged_batch("r", req, body_chars=3000, received_ns=NOW_NS) for req in range(1, 11)))
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    policy = RetentionPolicy(max_age_days=None, max_bytes=used_bytes(conn) - 30 * page)

    steps = [_prune(conn, policy)]
    while steps[-1].more:
        steps.append(_prune(conn, policy))

    # Freeing 30 pages takes two batches (~40 pages); one (~20) is not enough, three is waste.
    assert sum(s.batches for s in steps) == 2
    assert sum(s.rows for s in steps) == 40
    assert [row[0] for row in _batches(conn)] == list(range(3, 11))
    assert _totals(conn) == {("tagged-r", "logs"): 160}
    assert used_bytes(conn) <= policy.max_bytes


def test_release_free_pages_gives_pruned_space_back_to_the_file(conn: sqlite3.Connection) -> None:
    old = NOW_NS - 90 * DAY_NS
    _store(conn, *(tagged_batch("r", req, body_chars=3000, received_ns=old) for req in range(5)))
    pages_before = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute("BEGIN IMMEDIATE")
    assert prune_step(conn, BY_AGE, NOW_NS).batches == 5
    freed = conn.execute("PRAGMA freelist_count").fetchone()[0]
    # In steps of 40 pages, as serve does (in larger steps); each returns what is left.
    left = [release_free_pages(conn, pages=40)]
    while left[-1]:
        left.append(release_free_pages(conn, pages=40))
    assert freed >= 100
    assert left[0] == freed - 40 and len(left) == -(-freed // 40)  # ceil(freed / 40) steps
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert conn.execute("PRAGMA page_count").fetchone()[0] == pages_before - freed


# -- facts go with their rows; their figures stay in the rollups ---------------------------
S = 10**9
DAY = 86_400 * S
def _replayed_into(conn: sqlite3.Connection, scenario: str, received_ns: int) -> None:
    from agentwatch.receive.decode import Encoding, decode
    from agentwatch.receive.ingest import derived_batch
    from support.replay import FIXTURES, requests_of

    for req in requests_of(FIXTURES / scenario):
        signal = Signal(req.signal)
        encoding = Encoding.JSON if "json" in req.content_type else Encoding.PROTOBUF
        batch = derived_batch(signal, decode(signal, req.body, encoding), req.transport, received_ns, ViewPolicy())
        conn.execute("BEGIN IMMEDIATE")
        insert_batch(conn, batch)
        conn.execute("COMMIT")


def _figures(conn: sqlite3.Connection) -> tuple[int, int, int]:
    requests, tokens = conn.execute("SELECT SUM(requests), SUM(input_tokens) FROM rollups WHERE rank = 0").fetchone()
    (sessions,) = conn.execute("SELECT count(*) FROM sessions WHERE sid != ''").fetchone()
    return requests, tokens, sessions


def test_pruned_rows_take_their_facts_but_not_their_figures(tmp_path: Path) -> None:
    conn = open_writer(tmp_path / "agentwatch.db")
    schema.migrate(conn)
    now = 1_800_000_000 * S
    # Codex ran at 06:31 (3 calls, input 3 x 5555), received 40 days ago; OpenCode at 08:23
    # (2 calls, input 2 x 3210), received now: a 30-day policy prunes Codex's rows only.
    _replayed_into(conn, "codex/http_binary_logprompt", now - 40 * DAY)
    codex_facts = {k for (k,) in conn.execute("SELECT key FROM facts")}
    _replayed_into(conn, "opencode/otlp_env_aisdk_telemetry", now)
    before = _figures(conn)
    assert before == (3 + 2, 3 * 5555 + 2 * 3210, 2)
    assert codex_facts

    while prune_step(conn, RetentionPolicy(max_age_days=30, max_bytes=None), now).batches:
        pass

    left = {k for (k,) in conn.execute("SELECT key FROM facts")}
    assert left and not left & codex_facts  # OpenCode's facts stay, Codex's went with its rows
    assert _figures(conn) == before  # and the summaries still count Codex's calls
    assert conn.execute("SELECT count(*) FROM pruning").fetchone() == (0,)
    conn.close()

