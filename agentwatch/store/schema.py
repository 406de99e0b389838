"""Schema of the raw store, as named migrations applied in one transaction.

Raw rows are what arrived, one row per log record, metric data point and span,
each with the digest of its resource + scope + content so a re-sent batch is
recognised. Issue 4's normalised tables are derived from these rows in the same
transaction, and can be rebuilt from them later (`agentwatch reindex`).
"""

from __future__ import annotations

import sqlite3

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("agentwatch")


@migrations()
def m001_raw_rows(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE batches (
            id INTEGER PRIMARY KEY,
            received_ns INTEGER NOT NULL,
            signal TEXT NOT NULL,
            transport TEXT NOT NULL,
            records INTEGER NOT NULL,  -- records in the request
            stored INTEGER NOT NULL    -- records new to the store (re-sends excluded)
        );
        CREATE INDEX batches_received ON batches (received_ns);

        CREATE TABLE resources (
            key BLOB PRIMARY KEY,
            agent TEXT NOT NULL,
            service_name TEXT,
            attributes TEXT NOT NULL,
            elided TEXT,
            dropped_attributes INTEGER NOT NULL,
            schema_url TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE scopes (
            key BLOB PRIMARY KEY,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            attributes TEXT NOT NULL,
            schema_url TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE log_records (
            id INTEGER PRIMARY KEY,
            batch_id INTEGER NOT NULL,
            resource_key BLOB NOT NULL,
            scope_key BLOB NOT NULL,
            dedup_key BLOB NOT NULL UNIQUE,
            time_ns INTEGER NOT NULL,
            time_unix_nano INTEGER NOT NULL,
            observed_ns INTEGER NOT NULL,
            severity_number INTEGER NOT NULL,
            severity_text TEXT NOT NULL,
            event_name TEXT NOT NULL,
            body TEXT,
            attributes TEXT NOT NULL,
            elided TEXT,
            dropped_attributes INTEGER NOT NULL,
            trace_id BLOB NOT NULL,
            span_id BLOB NOT NULL,
            flags INTEGER NOT NULL
        );
        CREATE INDEX log_records_batch ON log_records (batch_id);

        CREATE TABLE metric_points (
            id INTEGER PRIMARY KEY,
            batch_id INTEGER NOT NULL,
            resource_key BLOB NOT NULL,
            scope_key BLOB NOT NULL,
            dedup_key BLOB NOT NULL UNIQUE,
            name TEXT NOT NULL,
            unit TEXT NOT NULL,
            kind TEXT NOT NULL,
            temporality INTEGER NOT NULL,
            monotonic INTEGER,
            start_ns INTEGER NOT NULL,
            time_ns INTEGER NOT NULL,
            value,                      -- no affinity: integers stay integers
            sample_count INTEGER,
            sum REAL,
            min REAL,
            max REAL,
            detail TEXT,
            attributes TEXT NOT NULL,
            elided TEXT,
            flags INTEGER NOT NULL
        );
        CREATE INDEX metric_points_batch ON metric_points (batch_id);

        CREATE TABLE spans (
            id INTEGER PRIMARY KEY,
            batch_id INTEGER NOT NULL,
            resource_key BLOB NOT NULL,
            scope_key BLOB NOT NULL,
            dedup_key BLOB NOT NULL UNIQUE,
            trace_id BLOB NOT NULL,
            span_id BLOB NOT NULL,
            parent_span_id BLOB NOT NULL,
            name TEXT NOT NULL,
            kind INTEGER NOT NULL,
            start_ns INTEGER NOT NULL,
            end_ns INTEGER NOT NULL,
            status_code INTEGER NOT NULL,
            status_message TEXT NOT NULL,
            attributes TEXT NOT NULL,
            elided TEXT,
            dropped_attributes INTEGER NOT NULL,
            events TEXT,
            links TEXT,
            trace_state TEXT NOT NULL,
            flags INTEGER NOT NULL
        );
        CREATE INDEX spans_batch ON spans (batch_id);

        -- Per agent and signal: rows currently stored and when the last arrived.
        -- Kept in the ingest transaction so `agentwatch status` never scans raw rows.
        CREATE TABLE agent_totals (
            agent TEXT NOT NULL,
            signal TEXT NOT NULL,
            rows INTEGER NOT NULL,
            last_received_ns INTEGER NOT NULL,
            PRIMARY KEY (agent, signal)
        ) WITHOUT ROWID;
        """
    )


SCHEMA_VERSION = len(migrations._migrations)


def migrate(conn: sqlite3.Connection) -> None:
    """Apply pending migrations and bump user_version, all in one IMMEDIATE transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        migrations.apply(sqlite_utils.Database(conn))
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
