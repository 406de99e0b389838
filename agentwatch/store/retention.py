"""Pruning of raw rows by age and by size, a small step at a time.

Each step is one short writer transaction deleting whole batches (oldest
first), so ingest keeps flowing between steps and a batch never loses half its
rows. Per-agent totals are decremented in the same transaction.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass

# The policy is a setting (config.py owns the defaults); re-exported so the pruner's callers
# find it next to prune_step.
from agentwatch.config import RetentionPolicy as RetentionPolicy
from agentwatch.measures import BUCKET_NS
from agentwatch.store.writer import TABLES

STEP_BATCHES = 200


@dataclass(frozen=True, slots=True)
class PruneStep:
    batches: int
    rows: int
    more: bool = False  # the policy still wants more deleted: run another step


def used_bytes(conn: sqlite3.Connection) -> int:
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return (pages - free) * page_size


def _too_old(conn: sqlite3.Connection, max_age_days: float, now_ns: int) -> list[int]:
    cutoff = now_ns - int(max_age_days * 86_400 * 1e9)
    return [
        row[0]
        for row in conn.execute(
            "SELECT id FROM batches WHERE received_ns < ? ORDER BY id LIMIT ?",
            (cutoff, STEP_BATCHES),
        )
    ]


def _over_size(conn: sqlite3.Connection, max_bytes: int) -> list[int]:
    """The oldest batches that, at the average batch size, make up the excess.

    A fixed STEP_BATCHES here would wipe a small store (or 200 large batches) for
    one byte over the limit; the estimate errs small and the next step corrects it.
    """
    used = used_bytes(conn)
    if used <= max_bytes:
        return []
    (count,) = conn.execute("SELECT count(*) FROM batches").fetchone()
    if count == 0:
        return []
    wanted = min(STEP_BATCHES, max(1, math.ceil((used - max_bytes) * count / used)))
    return [row[0] for row in conn.execute("SELECT id FROM batches ORDER BY id LIMIT ?", (wanted,))]


def _doomed_batches(conn: sqlite3.Connection, policy: RetentionPolicy, now_ns: int) -> list[int]:
    if policy.max_age_days is not None:
        ids = _too_old(conn, policy.max_age_days, now_ns)
        if ids:
            return ids
    if policy.max_bytes is not None:
        return _over_size(conn, policy.max_bytes)
    return []


def _delete_batches(conn: sqlite3.Connection, ids: list[int]) -> int:
    """Delete the batches and their rows, taking their rows off agent_totals."""
    marks = ",".join("?" * len(ids))
    deleted = 0
    for signal, table in TABLES.items():
        counts = conn.execute(
            # A row's own agent (m004), else its resource's: the label it was counted under.
            f"SELECT coalesce(t.agent, r.agent), count(*) FROM {table.name} t "
            f"JOIN resources r ON r.key = t.resource_key WHERE t.batch_id IN ({marks}) GROUP BY 1",
            ids,
        ).fetchall()
        conn.executemany(
            "UPDATE agent_totals SET rows = max(rows - ?, 0) WHERE agent = ? AND signal = ?",
            [(n, agent, signal) for agent, n in counts],
        )
        deleted += conn.execute(f"DELETE FROM {table.name} WHERE batch_id IN ({marks})", ids).rowcount
    conn.execute(f"DELETE FROM batches WHERE id IN ({marks})", ids)
    return deleted


def oldest_row_ns(conn: sqlite3.Connection) -> int | None:
    """The time of the oldest raw row still stored (None when there is none)."""
    times = conn.execute(
        "SELECT min(time_ns) FROM log_records UNION ALL SELECT min(time_ns) FROM metric_points "
        "UNION ALL SELECT min(start_ns) FROM spans"
    ).fetchall()
    known = [t for (t,) in times if t is not None]
    return min(known) if known else None


def _prune_facts(conn: sqlite3.Connection) -> None:
    """Facts (and cumulative baselines) older than the oldest raw row left go with their rows.

    Their figures stay in the rollups, so summaries still cover them; what goes is the
    per-call detail, which reindex could not rebuild without the rows anyway. A record
    re-sent after its fact was pruned would count again, as its raw row is gone too.
    """
    oldest = oldest_row_ns(conn)
    if oldest is None:
        return
    cutoff = oldest // BUCKET_NS * BUCKET_NS  # whole quarter hours, as reindex keeps them
    conn.execute("INSERT INTO pruning (since_ns) VALUES (?)", (cutoff,))
    conn.execute("DELETE FROM facts WHERE time_ns < ?", (cutoff,))
    conn.execute("DELETE FROM pruning")
    conn.execute("DELETE FROM series WHERE time_ns < ?", (cutoff,))


def prune_step(conn: sqlite3.Connection, policy: RetentionPolicy, now_ns: int) -> PruneStep:
    """Delete up to STEP_BATCHES of the oldest batches the policy no longer keeps."""
    ids = _doomed_batches(conn, policy, now_ns)
    if not ids:
        return PruneStep(0, 0)
    deleted = _delete_batches(conn, ids)
    _prune_facts(conn)
    # Freed pages count as free inside this transaction already, so this sees the step's effect.
    return PruneStep(len(ids), deleted, more=bool(_doomed_batches(conn, policy, now_ns)))


VACUUM_STEP_PAGES = 2000  # ~8 MiB at 4 KiB pages: a short write, so ingest waits little


def release_free_pages(conn: sqlite3.Connection, pages: int = VACUUM_STEP_PAGES) -> int:
    """Hand up to `pages` free pages back to the file system; returns how many remain free.

    Called in steps after a prune: one vacuum of a large freelist would hold the
    writer long enough for queued requests to miss their deadline.
    """
    if conn.in_transaction:
        conn.execute("COMMIT")  # incremental_vacuum is a write of its own
    # execute() takes a single step of a statement without result columns, and each
    # step frees one page; executescript steps it to the end.
    conn.executescript(f"PRAGMA incremental_vacuum({int(pages)});")
    return int(conn.execute("PRAGMA freelist_count").fetchone()[0])
