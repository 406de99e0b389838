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

from agentwatch.measures import BUCKET_NS
from agentwatch.store.connect import MIGRATION_SET

migrations = Migrations(MIGRATION_SET)


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


# The figures of m002's facts and rollups, and the kinds that count as activity (and
# below, each kind's channel), written out here rather than imported from records.py:
# a migration's SQL must not change when later code does.
_M002_MEASURES = (
    "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "reasoning_tokens", "cost_usd", "lines_added", "lines_removed",
    "commits", "pull_requests", "tool_calls", "tool_accepted", "tool_rejected",
)  # fmt: skip
_ACTIVE_KINDS = "('request', 'usage', 'tool', 'decision')"


def _add(target: str, column: str) -> str:
    # NULL means "no record carried this figure", so adding NULL keeps what was there.
    return f"{column} = CASE WHEN {target}.{column} IS NULL THEN {column} ELSE coalesce({column}, 0) + {target}.{column} END"


def _rollup_upsert(row: str) -> str:
    """Add one fact (NEW or OLD inside a trigger) to its rollup row."""
    cols = ", ".join(_M002_MEASURES)
    vals = ", ".join(f"{row}.{m}" for m in _M002_MEASURES)
    sets = ", ".join(_add("excluded", m) for m in _M002_MEASURES)
    return f"""
        INSERT INTO rollups (bucket, session_id, model, rank, activity, {cols})
        VALUES ({row}.time_ns / {BUCKET_NS}, {row}.session_id, {row}.model, {row}.rank,
                {row}.kind IN {_ACTIVE_KINDS}, {vals})
        ON CONFLICT (bucket, session_id, model, rank) DO UPDATE SET
            activity = activity + excluded.activity, {sets};
        INSERT INTO session_rollups (session_id, model, rank, first_bucket, last_bucket, activity, {cols})
        VALUES ({row}.session_id, {row}.model, {row}.rank, {row}.time_ns / {BUCKET_NS},
                {row}.time_ns / {BUCKET_NS}, {row}.kind IN {_ACTIVE_KINDS}, {vals})
        ON CONFLICT (session_id, model, rank) DO UPDATE SET
            first_bucket = min(first_bucket, excluded.first_bucket),
            last_bucket = max(last_bucket, excluded.last_bucket),
            activity = activity + excluded.activity, {sets};"""


def _rollup_remove(row: str) -> str:
    sets = ", ".join(
        f"{m} = CASE WHEN {row}.{m} IS NULL THEN {m} ELSE {m} - {row}.{m} END" for m in _M002_MEASURES
    )
    return f"""
        UPDATE rollups SET activity = activity - ({row}.kind IN {_ACTIVE_KINDS}), {sets}
        WHERE bucket = {row}.time_ns / {BUCKET_NS} AND session_id = {row}.session_id
          AND model = {row}.model AND rank = {row}.rank;
        UPDATE session_rollups SET activity = activity - ({row}.kind IN {_ACTIVE_KINDS}), {sets}
        WHERE session_id = {row}.session_id AND model = {row}.model AND rank = {row}.rank;"""


def _session_touch(row: str, ids: str) -> str:
    """First/last seen and the best (lowest) precedence rank per channel of a session."""
    def rank(channel: str, kinds: str) -> str:
        return f"{channel}_rank = CASE WHEN {row}.kind IN {kinds} THEN min({channel}_rank, {row}.rank) ELSE {channel}_rank END"

    return f"""
        UPDATE sessions SET
            first_ns = min(coalesce(first_ns, {row}.time_ns), {row}.time_ns),
            last_ns = max(coalesce(last_ns, {row}.time_ns), {row}.time_ns),
            {rank("usage", "('request', 'usage')")},
            {rank("tools", "('tool', 'decision')")},
            {rank("output", "('output')")}
        WHERE id IN {ids};"""


@migrations()
def m002_normalised(db: sqlite_utils.Database) -> None:
    """Sessions, facts and their 15-minute rollups, kept by triggers in the ingest transaction.

    A fact is one model call, tool call, decision, output figure or metric increase.
    Its key merges the records that describe the same thing (and ignores re-sends).
    `rollups` always equals the sum of `facts`, so summaries never scan facts: the
    writer adds new facts to it per batch (store/facts.py), and these triggers take
    a changed or deleted fact's old values out and put the new ones in. Each session keeps, per channel (usage, tools, output), the lowest rank of
    any source it has: summaries count a channel's figures only from that source, which
    is how one figure reported twice (a metric and an event) is counted once.
    """
    measures = ",\n".join(f"{m} {'REAL' if m == 'cost_usd' else 'INTEGER'}" for m in _M002_MEASURES)
    db.executescript(
        f"""
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            agent TEXT NOT NULL,
            scope TEXT NOT NULL,  -- '' when ids are unique; what keeps non-unique ids apart
            sid TEXT NOT NULL,    -- the agent's session id; '' = records of one resource naming none
            first_ns INTEGER,
            last_ns INTEGER,
            usage_rank INTEGER NOT NULL DEFAULT 99,
            tools_rank INTEGER NOT NULL DEFAULT 99,
            output_rank INTEGER NOT NULL DEFAULT 99,
            labels TEXT,          -- JSON: user, team, project, ... where the agent sent them
            UNIQUE (agent, scope, sid)
        );
        CREATE INDEX sessions_last ON sessions (last_ns);

        CREATE TABLE facts (
            id INTEGER PRIMARY KEY,
            key BLOB NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            session_id INTEGER NOT NULL,
            home_id INTEGER NOT NULL,  -- the session row of the fact's resource with no id
            trace_id BLOB NOT NULL,
            time_ns INTEGER NOT NULL,
            model TEXT NOT NULL,       -- '' when the record named none
            rank INTEGER NOT NULL,
            name TEXT,
            decision TEXT,
            decision_source TEXT,
            success INTEGER,
            duration_ms REAL,
            error TEXT,
            {measures}
        );
        CREATE INDEX facts_session ON facts (session_id, time_ns);
        CREATE INDEX facts_trace ON facts (trace_id) WHERE trace_id != x'';

        CREATE TABLE rollups (
            bucket INTEGER NOT NULL,
            session_id INTEGER NOT NULL,
            model TEXT NOT NULL,
            rank INTEGER NOT NULL,
            activity INTEGER NOT NULL,  -- facts that are session activity (calls, tools)
            {measures},
            PRIMARY KEY (bucket, session_id, model, rank)
        ) WITHOUT ROWID;
        CREATE INDEX rollups_session ON rollups (session_id);

        -- The same sums per session, model and rank over the session's whole life, with
        -- the first and last bucket it touched (bounds only ever widen). A summary takes
        -- a session that lies within one day from here, reading one row instead of one
        -- per quarter hour; only sessions that cross a day boundary read `rollups`.
        CREATE TABLE session_rollups (
            session_id INTEGER NOT NULL,
            model TEXT NOT NULL,
            rank INTEGER NOT NULL,
            first_bucket INTEGER NOT NULL,
            last_bucket INTEGER NOT NULL,
            activity INTEGER NOT NULL,
            {measures},
            PRIMARY KEY (session_id, model, rank)
        ) WITHOUT ROWID;

        -- Which agents sent anything in each 15 minutes, counted or not (a Cline
        -- lifecycle record still shows Cline is connected).
        CREATE TABLE presence (
            bucket INTEGER NOT NULL,
            agent TEXT NOT NULL,
            PRIMARY KEY (bucket, agent)
        ) WITHOUT ROWID;

        -- Cumulative series: the last total seen per series and start time, so an
        -- increase is exact across agentwatch restarts.
        CREATE TABLE series (
            key BLOB NOT NULL,
            start_ns INTEGER NOT NULL,
            time_ns INTEGER NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (key, start_ns)
        ) WITHOUT ROWID;

        -- A trace whose invoke_agent span named the session its calls belong to.
        CREATE TABLE trace_sessions (
            trace_id BLOB PRIMARY KEY,
            session_id INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TRIGGER facts_changed AFTER UPDATE ON facts BEGIN
            {_rollup_remove("OLD")}
            {_rollup_upsert("NEW")}
            {_session_touch("NEW", "(NEW.session_id, NEW.home_id)")}
        END;

        -- While retention prunes old facts (a row here for the length of its transaction),
        -- their figures stay in the rollups: summaries outlive the rows they came from.
        CREATE TABLE pruning (since_ns INTEGER NOT NULL);

        CREATE TRIGGER facts_removed AFTER DELETE ON facts WHEN NOT EXISTS (SELECT 1 FROM pruning) BEGIN
            {_rollup_remove("OLD")}
        END;

        -- The normalised model, by what it describes (all from facts).
        CREATE VIEW model_requests AS SELECT * FROM facts WHERE kind = 'request';
        CREATE VIEW tool_calls AS SELECT * FROM facts WHERE kind IN ('tool', 'decision');
        CREATE VIEW code_output AS SELECT * FROM facts WHERE kind = 'output';
        """
    )


SCHEMA_VERSION = len(migrations._migrations)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations and bump user_version, all in one IMMEDIATE transaction.

    Returns the version the database had before (0 for a new one).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        before = conn.execute("PRAGMA user_version").fetchone()[0]
        migrations.apply(sqlite_utils.Database(conn))
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return int(before)
