"""Schema versions of the PostgreSQL store. Append new steps; never edit an applied one.

The tables mirror the SQLite store's (migrations.py), with PostgreSQL's types: `seq` identity
columns give every row its place in creation order (page tokens name it, as SQLite's rowid),
tags are a text[] matched with @>, cache expirations are timestamps.

Several orchestrators may start at once on one database: migrating takes a transaction-level
advisory lock, so one migrates while the others wait and then find the schema current. Every
step and its row in cadenza_schema commit together (PostgreSQL's DDL is transactional).
"""

from __future__ import annotations

import logging

import psycopg

from .errors import StoreError

log = logging.getLogger("cadenza.orchestrator.store")

# Advisory lock keys: (LOCK_SPACE, n). Locks are per database, so one orchestrator's keys never
# meet another database's.
LOCK_SPACE = 0x43414431  # "CAD1"
MIGRATION_LOCK = 1
OWNER_LOCK = 2  # held while serving; see postgres_owner.py
BACKGROUND_LOCK = 3  # held by the one replica doing the background work; see postgres_leader.py
CONFLICT_SQLSTATE = "CZ409"

MIGRATIONS: list[str] = [
    # 1: runs, state history, concurrency limits, cache, logs (SQLite's version 1)
    """
    CREATE TABLE flow_runs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        id TEXT PRIMARY KEY,
        flow_name TEXT NOT NULL,
        state_type TEXT NOT NULL,
        parent_task_run_id TEXT NOT NULL,
        deployment_id TEXT NOT NULL,
        idempotency_key TEXT,
        tags TEXT[] NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE UNIQUE INDEX flow_runs_idempotency ON flow_runs(idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX flow_runs_state ON flow_runs(state_type);
    CREATE INDEX flow_runs_parent ON flow_runs(parent_task_run_id);
    CREATE TABLE task_runs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        id TEXT PRIMARY KEY,
        flow_run_id TEXT NOT NULL,
        task_key TEXT NOT NULL,
        dynamic_key TEXT NOT NULL,
        state_type TEXT NOT NULL,
        idempotency_key TEXT,
        doc TEXT NOT NULL,
        UNIQUE (flow_run_id, task_key, dynamic_key)
    );
    -- A flow run's task runs in creation order, a page at a time, without a sort.
    CREATE INDEX task_runs_flow_run ON task_runs(flow_run_id, seq);
    CREATE UNIQUE INDEX task_runs_idempotency ON task_runs(idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE TABLE states (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL,
        run_kind TEXT NOT NULL,
        run_id TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX states_run ON states(run_id, seq);
    CREATE TABLE concurrency_limits (tag TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE cache_entries (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        key TEXT NOT NULL,
        expiration TIMESTAMPTZ,
        state TEXT NOT NULL
    );
    CREATE INDEX cache_entries_key ON cache_entries(key, seq);
    CREATE TABLE logs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        flow_run_id TEXT NOT NULL,
        task_run_id TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX logs_flow_run ON logs(flow_run_id, seq);
    """,
    # 2: deployments (SQLite's version 2)
    """
    CREATE TABLE deployments (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL
    );
    """,
    # 3: row versions (random, unique), checked on write, so replicas sharing the database never
    # overwrite a change they did not see (prior_version: the version a write replaced); cadenza_expect refuses a batch whose check failed (SQLSTATE
    # CZ409, which the store reads as a conflict to decide again).
    """
    ALTER TABLE flow_runs ADD COLUMN version BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN prior_version BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE task_runs ADD COLUMN version BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN prior_version BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE concurrency_limits ADD COLUMN version BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN prior_version BIGINT NOT NULL DEFAULT 0;
    CREATE FUNCTION cadenza_expect(ok BOOLEAN, what TEXT) RETURNS VOID LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT ok THEN
            RAISE EXCEPTION USING ERRCODE = 'CZ409', MESSAGE = what;
        END IF;
    END $$;
    """,
]

_VERSIONS = """
    CREATE TABLE IF NOT EXISTS cadenza_schema (
        version INTEGER PRIMARY KEY,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
"""


def schema_version(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT coalesce(max(version), 0) FROM cadenza_schema").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection, where: str) -> int:
    """Bring the schema to the newest version (on an autocommit connection); the version."""
    with conn.transaction():
        # Taken before anything is read or created, and held to the commit: whoever comes
        # second sees the first one's tables, never half of them.
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_SPACE, MIGRATION_LOCK))
        conn.execute(_VERSIONS)
        version = schema_version(conn)
        if version > len(MIGRATIONS):
            raise StoreError(
                f"PostgreSQL at {where} has schema version {version}, newer than this Cadenza "
                f"(knows {len(MIGRATIONS)}): upgrade Cadenza or use another database"
            )
        for number in range(version, len(MIGRATIONS)):
            conn.execute(MIGRATIONS[number])
            conn.execute("INSERT INTO cadenza_schema (version) VALUES (%s)", (number + 1,))
            log.info("store schema migrated to version %d", number + 1)
    return len(MIGRATIONS)
