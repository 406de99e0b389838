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
from agentwatch.store.connect import MIGRATION_SET, SCHEMA_VERSION

migrations = Migrations(MIGRATION_SET)


def _execute_script(db: sqlite_utils.Database, script: str) -> None:
    """Run a script's statements inside the migration's transaction, one by one.

    sqlite3's executescript would COMMIT first, and sqlite_utils' splitter tests the
    text after every character (quadratic in a statement's length: about two seconds
    for m003's triggers). A statement can only end at a semicolon, so test there."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                db.conn.execute(statement)
            statement = ""


@migrations()
def m001_raw_rows(db: sqlite_utils.Database) -> None:
    _execute_script(
        db,
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
    _execute_script(
        db,
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


# m003's families (measures.FAMILIES as it was then), frozen for the same reason.
_M003_FAMILIES = {
    "calls": ("requests", "errors"),
    "input_tokens": ("input_tokens",),
    "output_tokens": ("output_tokens",),
    "cache_read_tokens": ("cache_read_tokens",),
    "cache_write_tokens": ("cache_write_tokens",),
    "reasoning_tokens": ("reasoning_tokens",),
    "cost": ("cost_usd",),
    "lines": ("lines_added", "lines_removed"),
    "commits": ("commits",),
    "pull_requests": ("pull_requests",),
    "tool_calls": ("tool_calls",),
    "decisions": ("tool_accepted", "tool_rejected"),
}
_INHERITING_KINDS = "('tool', 'decision', 'output')"


def _carries(row: str, family: str) -> str:
    return "(" + " OR ".join(f"{row}{m} IS NOT NULL" for m in _M003_FAMILIES[family]) + ")"


def _family_touch(row: str, ids: str) -> str:
    """First/last seen, and per family the best (lowest) rank of a source that carries it."""
    ranks = ",\n".join(
        f"{f}_rank = CASE WHEN {_carries(row + '.', f)} THEN min({f}_rank, {row}.rank) ELSE {f}_rank END"
        for f in _M003_FAMILIES
    )
    return f"""
        UPDATE sessions SET
            first_ns = min(coalesce(first_ns, {row}.time_ns), {row}.time_ns),
            last_ns = max(coalesce(last_ns, {row}.time_ns), {row}.time_ns),
            {ranks}
        WHERE id IN {ids};"""


def _drop_if_emptied(row: str, moved: str) -> str:
    """Delete the rollup rows a fact left when no fact is left in them and they hold nothing.

    Without this, a tool filed anew under its call's model would leave a row of zeros
    behind under its old model: a phantom breakdown row. Figures of pruned facts stay
    (they are nonzero, or the row would never have been kept)."""
    empty = " AND ".join(f"coalesce({m}, 0) = 0" for m in _M002_MEASURES)
    same = f"f.session_id = {row}.session_id AND f.model = {row}.model AND f.rank = {row}.rank"
    return f"""
        DELETE FROM rollups WHERE {moved} AND bucket = {row}.time_ns / {BUCKET_NS}
          AND session_id = {row}.session_id AND model = {row}.model AND rank = {row}.rank
          AND activity = 0 AND {empty}
          AND NOT EXISTS (SELECT 1 FROM facts f WHERE {same}
                          AND f.time_ns / {BUCKET_NS} = {row}.time_ns / {BUCKET_NS});
        DELETE FROM session_rollups WHERE {moved}
          AND session_id = {row}.session_id AND model = {row}.model AND rank = {row}.rank
          AND activity = 0 AND {empty}
          AND NOT EXISTS (SELECT 1 FROM facts f WHERE {same});"""


def _best_ranks() -> str:
    """SQL: per session, each family's best rank, from its rollups (which outlive pruned
    facts) and from the facts whose resource it is home to (as the writer touches it)."""
    columns = ", ".join(
        f"coalesce(min(CASE WHEN {_carries('', f)} THEN rank END), 99) AS {f}" for f in _M003_FAMILIES
    )
    measures = ", ".join(_M002_MEASURES)
    return f"""
        SELECT id, {columns} FROM (
            SELECT session_id AS id, rank, {measures} FROM session_rollups
            UNION ALL
            SELECT home_id, rank, {measures} FROM facts WHERE home_id != session_id
        ) GROUP BY id"""


@migrations()
def m003_family_ranks(db: sqlite_utils.Database) -> None:
    """Precedence per family, and model-less facts filed under their nearest call.

    m002 ranked sources per channel (usage, tools, output), so a better source that
    lacked a figure hid the one a cruder source reported (Copilot CLI's cache-write
    and reasoning tokens). Each session now keeps a best rank per family.

    A tool call, decision or output figure that names no model takes the model of its
    session's nearest call (at or before it, else the first after); `inherited` marks
    it, so the writer files it anew when an earlier call arrives later. Existing
    model-less ones are filed here; the triggers move their figures.
    """
    add_ranks = "\n".join(
        f"ALTER TABLE sessions ADD COLUMN {f}_rank INTEGER NOT NULL DEFAULT 99;" for f in _M003_FAMILIES
    )
    set_ranks = ", ".join(f"{f}_rank = best.{f}" for f in _M003_FAMILIES)
    moved = (
        f"(OLD.model != NEW.model OR OLD.session_id != NEW.session_id OR OLD.rank != NEW.rank "
        f"OR OLD.time_ns / {BUCKET_NS} != NEW.time_ns / {BUCKET_NS})"
    )
    calls = "c.session_id = facts.session_id AND c.kind = 'request' AND c.model != ''"
    _execute_script(
        db,
        f"""
        DROP TRIGGER facts_changed;
        DROP TRIGGER facts_removed;
        {add_ranks}
        UPDATE sessions SET {set_ranks} FROM ({_best_ranks()}) AS best WHERE sessions.id = best.id;
        ALTER TABLE sessions DROP COLUMN usage_rank;
        ALTER TABLE sessions DROP COLUMN tools_rank;
        ALTER TABLE sessions DROP COLUMN output_rank;

        ALTER TABLE facts ADD COLUMN inherited INTEGER NOT NULL DEFAULT 0;
        -- A session's calls by time, for filing; and the facts filed under one of them.
        CREATE INDEX facts_calls ON facts (session_id, time_ns) WHERE kind = 'request' AND model != '';
        CREATE INDEX facts_inherited ON facts (session_id, time_ns) WHERE inherited = 1;

        CREATE TRIGGER facts_changed AFTER UPDATE ON facts BEGIN
            {_rollup_remove("OLD")}
            {_rollup_upsert("NEW")}
            {_family_touch("NEW", "(NEW.session_id, NEW.home_id)")}
            {_drop_if_emptied("OLD", moved)}
        END;

        CREATE TRIGGER facts_removed AFTER DELETE ON facts WHEN NOT EXISTS (SELECT 1 FROM pruning) BEGIN
            {_rollup_remove("OLD")}
            {_drop_if_emptied("OLD", "1")}
        END;

        UPDATE facts SET inherited = 1, model = coalesce(
            (SELECT c.model FROM facts c WHERE {calls} AND c.time_ns <= facts.time_ns
             ORDER BY c.time_ns DESC, c.model DESC LIMIT 1),
            (SELECT c.model FROM facts c WHERE {calls} AND c.time_ns > facts.time_ns
             ORDER BY c.time_ns, c.model LIMIT 1),
            '')
        WHERE model = '' AND kind IN {_INHERITING_KINDS} AND session_id != home_id;
        """
    )


@migrations()
def m004_row_agents(db: sqlite_utils.Database) -> None:
    """Each raw row's own agent label, as the adapter registry decides it per record.

    A resource's service.name is not enough: a Claude Code record under a global
    OTEL_SERVICE_NAME=my-app is Claude Code by its scope, and one resource can hold
    several agents' scopes. agent_totals counts each row under this label and
    retention takes it off again under the same one. Rows stored before keep NULL
    here: they were counted under their resource's agent, which is what they are
    taken off as.
    """
    _execute_script(
        db,
        """
        ALTER TABLE log_records ADD COLUMN agent TEXT;
        ALTER TABLE metric_points ADD COLUMN agent TEXT;
        ALTER TABLE spans ADD COLUMN agent TEXT;
        """
    )


if len(migrations._migrations) != SCHEMA_VERSION:  # checked at import: a new migration bumps it
    raise TypeError("store.connect.SCHEMA_VERSION must count store.schema's migrations")


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
