"""Migrating a blank database gives exactly the schema written out here, once."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from agentwatch.store import schema
from agentwatch.store.connect import open_writer

# (column, declared type, NOT NULL, primary-key position), written out from the design, not read
# back from the code: a column added, dropped, retyped or made nullable shows up here.
EXPECTED_TABLES: dict[str, list[tuple[str, str, int, int]]] = {
    "_sqlite_migrations": [
        ("id", "INTEGER", 0, 1),
        ("migration_set", "TEXT", 0, 0),
        ("name", "TEXT", 0, 0),
        ("applied_at", "TEXT", 0, 0),
    ],
    "batches": [
        ("id", "INTEGER", 0, 1),
        ("received_ns", "INTEGER", 1, 0),
        ("signal", "TEXT", 1, 0),
        ("transport", "TEXT", 1, 0),
        ("records", "INTEGER", 1, 0),
        ("stored", "INTEGER", 1, 0),
    ],
    "resources": [
        ("key", "BLOB", 1, 1),  # a WITHOUT ROWID primary key is NOT NULL by definition
        ("agent", "TEXT", 1, 0),
        ("service_name", "TEXT", 0, 0),
        ("attributes", "TEXT", 1, 0),
        ("elided", "TEXT", 0, 0),
        ("dropped_attributes", "INTEGER", 1, 0),
        ("schema_url", "TEXT", 1, 0),
    ],
    "scopes": [
        ("key", "BLOB", 1, 1),
        ("name", "TEXT", 1, 0),
        ("version", "TEXT", 1, 0),
        ("attributes", "TEXT", 1, 0),
        ("schema_url", "TEXT", 1, 0),
    ],
    "log_records": [
        ("id", "INTEGER", 0, 1),
        ("batch_id", "INTEGER", 1, 0),
        ("resource_key", "BLOB", 1, 0),
        ("scope_key", "BLOB", 1, 0),
        ("dedup_key", "BLOB", 1, 0),
        ("time_ns", "INTEGER", 1, 0),
        ("time_unix_nano", "INTEGER", 1, 0),
        ("observed_ns", "INTEGER", 1, 0),
        ("severity_number", "INTEGER", 1, 0),
        ("severity_text", "TEXT", 1, 0),
        ("event_name", "TEXT", 1, 0),
        ("body", "TEXT", 0, 0),
        ("attributes", "TEXT", 1, 0),
        ("elided", "TEXT", 0, 0),
        ("dropped_attributes", "INTEGER", 1, 0),
        ("trace_id", "BLOB", 1, 0),
        ("span_id", "BLOB", 1, 0),
        ("flags", "INTEGER", 1, 0),
        ("agent", "TEXT", 0, 0),  # m004: the row's own agent label; NULL before m004
    ],
    "metric_points": [
        ("id", "INTEGER", 0, 1),
        ("batch_id", "INTEGER", 1, 0),
        ("resource_key", "BLOB", 1, 0),
        ("scope_key", "BLOB", 1, 0),
        ("dedup_key", "BLOB", 1, 0),
        ("name", "TEXT", 1, 0),
        ("unit", "TEXT", 1, 0),
        ("kind", "TEXT", 1, 0),
        ("temporality", "INTEGER", 1, 0),
        ("monotonic", "INTEGER", 0, 0),
        ("start_ns", "INTEGER", 1, 0),
        ("time_ns", "INTEGER", 1, 0),
        ("value", "", 0, 0),  # no declared type: integers stay integers, floats stay floats
        ("sample_count", "INTEGER", 0, 0),
        ("sum", "REAL", 0, 0),
        ("min", "REAL", 0, 0),
        ("max", "REAL", 0, 0),
        ("detail", "TEXT", 0, 0),
        ("attributes", "TEXT", 1, 0),
        ("elided", "TEXT", 0, 0),
        ("flags", "INTEGER", 1, 0),
        ("agent", "TEXT", 0, 0),  # m004: the row's own agent label; NULL before m004
    ],
    "spans": [
        ("id", "INTEGER", 0, 1),
        ("batch_id", "INTEGER", 1, 0),
        ("resource_key", "BLOB", 1, 0),
        ("scope_key", "BLOB", 1, 0),
        ("dedup_key", "BLOB", 1, 0),
        ("trace_id", "BLOB", 1, 0),
        ("span_id", "BLOB", 1, 0),
        ("parent_span_id", "BLOB", 1, 0),
        ("name", "TEXT", 1, 0),
        ("kind", "INTEGER", 1, 0),
        ("start_ns", "INTEGER", 1, 0),
        ("end_ns", "INTEGER", 1, 0),
        ("status_code", "INTEGER", 1, 0),
        ("status_message", "TEXT", 1, 0),
        ("attributes", "TEXT", 1, 0),
        ("elided", "TEXT", 0, 0),
        ("dropped_attributes", "INTEGER", 1, 0),
        ("events", "TEXT", 0, 0),
        ("links", "TEXT", 0, 0),
        ("trace_state", "TEXT", 1, 0),
        ("flags", "INTEGER", 1, 0),
        ("agent", "TEXT", 0, 0),  # m004: the row's own agent label; NULL before m004
    ],
    "agent_totals": [
        ("agent", "TEXT", 1, 1),
        ("signal", "TEXT", 1, 2),
        ("rows", "INTEGER", 1, 0),
        ("last_received_ns", "INTEGER", 1, 0),
    ],
    # m002: the normalised model. Every figure is nullable: NULL is "not reported".
    "sessions": [
        ("id", "INTEGER", 0, 1),
        ("agent", "TEXT", 1, 0),
        ("scope", "TEXT", 1, 0),
        ("sid", "TEXT", 1, 0),
        ("first_ns", "INTEGER", 0, 0),
        ("last_ns", "INTEGER", 0, 0),
        ("labels", "TEXT", 0, 0),
        # m003: the best rank per family of measures (m002's per-channel ranks dropped)
        ("calls_rank", "INTEGER", 1, 0),
        ("input_tokens_rank", "INTEGER", 1, 0),
        ("output_tokens_rank", "INTEGER", 1, 0),
        ("cache_read_tokens_rank", "INTEGER", 1, 0),
        ("cache_write_tokens_rank", "INTEGER", 1, 0),
        ("reasoning_tokens_rank", "INTEGER", 1, 0),
        ("cost_rank", "INTEGER", 1, 0),
        ("lines_rank", "INTEGER", 1, 0),
        ("commits_rank", "INTEGER", 1, 0),
        ("pull_requests_rank", "INTEGER", 1, 0),
        ("tool_calls_rank", "INTEGER", 1, 0),
        ("decisions_rank", "INTEGER", 1, 0),
    ],
    "facts": [
        ("id", "INTEGER", 0, 1),
        ("key", "BLOB", 1, 0),
        ("kind", "TEXT", 1, 0),
        ("session_id", "INTEGER", 1, 0),
        ("home_id", "INTEGER", 1, 0),
        ("trace_id", "BLOB", 1, 0),
        ("time_ns", "INTEGER", 1, 0),
        ("model", "TEXT", 1, 0),
        ("rank", "INTEGER", 1, 0),
        ("name", "TEXT", 0, 0),
        ("decision", "TEXT", 0, 0),
        ("decision_source", "TEXT", 0, 0),
        ("success", "INTEGER", 0, 0),
        ("duration_ms", "REAL", 0, 0),
        ("error", "TEXT", 0, 0),
        ("requests", "INTEGER", 0, 0),
        ("errors", "INTEGER", 0, 0),
        ("input_tokens", "INTEGER", 0, 0),
        ("output_tokens", "INTEGER", 0, 0),
        ("cache_read_tokens", "INTEGER", 0, 0),
        ("cache_write_tokens", "INTEGER", 0, 0),
        ("reasoning_tokens", "INTEGER", 0, 0),
        ("cost_usd", "REAL", 0, 0),
        ("lines_added", "INTEGER", 0, 0),
        ("lines_removed", "INTEGER", 0, 0),
        ("commits", "INTEGER", 0, 0),
        ("pull_requests", "INTEGER", 0, 0),
        ("tool_calls", "INTEGER", 0, 0),
        ("tool_accepted", "INTEGER", 0, 0),
        ("tool_rejected", "INTEGER", 0, 0),
        ("inherited", "INTEGER", 1, 0),  # m003: filed under its nearest call
    ],
    "rollups": [
        ("bucket", "INTEGER", 1, 1),
        ("session_id", "INTEGER", 1, 2),
        ("model", "TEXT", 1, 3),
        ("rank", "INTEGER", 1, 4),
        ("activity", "INTEGER", 1, 0),
        ("requests", "INTEGER", 0, 0),
        ("errors", "INTEGER", 0, 0),
        ("input_tokens", "INTEGER", 0, 0),
        ("output_tokens", "INTEGER", 0, 0),
        ("cache_read_tokens", "INTEGER", 0, 0),
        ("cache_write_tokens", "INTEGER", 0, 0),
        ("reasoning_tokens", "INTEGER", 0, 0),
        ("cost_usd", "REAL", 0, 0),
        ("lines_added", "INTEGER", 0, 0),
        ("lines_removed", "INTEGER", 0, 0),
        ("commits", "INTEGER", 0, 0),
        ("pull_requests", "INTEGER", 0, 0),
        ("tool_calls", "INTEGER", 0, 0),
        ("tool_accepted", "INTEGER", 0, 0),
        ("tool_rejected", "INTEGER", 0, 0),
    ],
    "session_rollups": [
        ("session_id", "INTEGER", 1, 1),
        ("model", "TEXT", 1, 2),
        ("rank", "INTEGER", 1, 3),
        ("first_bucket", "INTEGER", 1, 0),
        ("last_bucket", "INTEGER", 1, 0),
        ("activity", "INTEGER", 1, 0),
        ("requests", "INTEGER", 0, 0),
        ("errors", "INTEGER", 0, 0),
        ("input_tokens", "INTEGER", 0, 0),
        ("output_tokens", "INTEGER", 0, 0),
        ("cache_read_tokens", "INTEGER", 0, 0),
        ("cache_write_tokens", "INTEGER", 0, 0),
        ("reasoning_tokens", "INTEGER", 0, 0),
        ("cost_usd", "REAL", 0, 0),
        ("lines_added", "INTEGER", 0, 0),
        ("lines_removed", "INTEGER", 0, 0),
        ("commits", "INTEGER", 0, 0),
        ("pull_requests", "INTEGER", 0, 0),
        ("tool_calls", "INTEGER", 0, 0),
        ("tool_accepted", "INTEGER", 0, 0),
        ("tool_rejected", "INTEGER", 0, 0),
    ],
    "presence": [
        ("bucket", "INTEGER", 1, 1),
        ("agent", "TEXT", 1, 2),
    ],
    "series": [
        ("key", "BLOB", 1, 1),
        ("start_ns", "INTEGER", 1, 2),
        ("time_ns", "INTEGER", 1, 0),
        ("value", "REAL", 1, 0),
    ],
    "pruning": [
        ("since_ns", "INTEGER", 1, 0),
    ],
    "trace_sessions": [
        ("trace_id", "BLOB", 1, 1),
        ("session_id", "INTEGER", 1, 0),
    ],
}

# (table, indexed columns, unique): dedup keys are UNIQUE, so a duplicate can never be stored.
EXPECTED_INDEXES = {
    ("_sqlite_migrations", ("migration_set", "name"), 1),
    ("batches", ("received_ns",), 0),
    ("log_records", ("batch_id",), 0),
    ("log_records", ("dedup_key",), 1),
    ("metric_points", ("batch_id",), 0),
    ("metric_points", ("dedup_key",), 1),
    ("spans", ("batch_id",), 0),
    ("spans", ("dedup_key",), 1),
    ("sessions", ("agent", "scope", "sid"), 1),
    ("sessions", ("last_ns",), 0),
    ("facts", ("key",), 1),
    ("facts", ("session_id", "time_ns"), 0),
    ("facts", ("trace_id", "partial"), 0),
    ("facts", ("session_id", "time_ns", "partial"), 0),  # m003: calls by time, and inherited facts
    ("rollups", ("session_id",), 0),
}
WITHOUT_ROWID = {
    "resources", "scopes", "agent_totals", "rollups", "session_rollups", "presence", "series", "trace_sessions",
}  # fmt: skip


def _tables(conn: sqlite3.Connection) -> dict[str, list[tuple[str, str, int, int]]]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {
        name: [(c[1], c[2], c[3], c[5]) for c in conn.execute(f"PRAGMA table_info({name})")]
        for name in names
    }


def _indexes(conn: sqlite3.Connection) -> set[tuple[str, tuple[str, ...], int]]:
    found = set()
    for table in _tables(conn):
        for _, index, unique, origin, partial in conn.execute(f"PRAGMA index_list({table})"):
            if origin == "pk":
                continue  # the primary key's own index (WITHOUT ROWID tables)
            cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index})"))
            found.add((table, cols + (("partial",) if partial else ()), unique))
    return found


def _without_rowid(conn: sqlite3.Connection) -> set[str]:
    return {
        name
        for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        if sql.rstrip().upper().endswith("WITHOUT ROWID")
    }


def _dump(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()


def test_migrating_a_blank_db_gives_exactly_the_expected_schema(tmp_path: Path) -> None:
    conn = open_writer(tmp_path / "agentwatch.db")
    schema.migrate(conn)
    assert conn.execute("PRAGMA user_version").fetchone() == (4,)
    assert schema.SCHEMA_VERSION == 4
    assert _tables(conn) == EXPECTED_TABLES
    assert _indexes(conn) == EXPECTED_INDEXES
    assert _without_rowid(conn) == WITHOUT_ROWID
    assert conn.execute("SELECT migration_set, name FROM _sqlite_migrations").fetchall() == [
        ("agentwatch", "m001_raw_rows"),
        ("agentwatch", "m002_normalised"),
        ("agentwatch", "m003_family_ranks"),
        ("agentwatch", "m004_row_agents"),
    ]
    assert conn.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental: retention can shrink the file
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    conn = open_writer(tmp_path / "agentwatch.db")
    schema.migrate(conn)
    first = (_dump(conn), conn.execute("SELECT * FROM _sqlite_migrations").fetchall())
    conn.close()

    conn = open_writer(tmp_path / "agentwatch.db")  # as the next `agentwatch serve` does
    schema.migrate(conn)
    assert (_dump(conn), conn.execute("SELECT * FROM _sqlite_migrations").fetchall()) == first
    assert conn.execute("PRAGMA user_version").fetchone() == (4,)
    assert not conn.in_transaction
    conn.close()


def test_the_migrated_db_and_its_side_files_are_private(tmp_path: Path) -> None:
    db = tmp_path / "data" / "agentwatch.db"
    conn = open_writer(db)
    schema.migrate(conn)
    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in db.parent.iterdir()}
    assert files == {"agentwatch.db": 0o600, "agentwatch.db-wal": 0o600, "agentwatch.db-shm": 0o600}
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    conn.close()
