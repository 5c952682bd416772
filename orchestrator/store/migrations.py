"""Schema versions of the SQLite store. Append new steps; never edit an applied one.

Version 1 was last reshaped before the first release (0.1.0), when no database outside
development existed; every change from here on is a new step.
"""

MIGRATIONS: list[str] = [
    # 1: runs, state history, concurrency limits, cache, logs
    """
    CREATE TABLE flow_runs (
        id TEXT PRIMARY KEY,
        flow_name TEXT NOT NULL,
        state_type TEXT NOT NULL,
        parent_task_run_id TEXT NOT NULL,
        deployment_id TEXT NOT NULL,
        idempotency_key TEXT,
        tags TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE UNIQUE INDEX flow_runs_idempotency ON flow_runs(idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX flow_runs_state ON flow_runs(state_type);
    CREATE INDEX flow_runs_parent ON flow_runs(parent_task_run_id);
    CREATE TABLE task_runs (
        id TEXT PRIMARY KEY,
        flow_run_id TEXT NOT NULL,
        task_key TEXT NOT NULL,
        dynamic_key TEXT NOT NULL,
        state_type TEXT NOT NULL,
        idempotency_key TEXT,
        doc TEXT NOT NULL,
        UNIQUE (flow_run_id, task_key, dynamic_key)
    );
    -- Partial: most task runs have no key, and indexing their NULLs costs a page per write.
    CREATE UNIQUE INDEX task_runs_idempotency ON task_runs(idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE TABLE states (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        run_kind TEXT NOT NULL,
        run_id TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX states_run ON states(run_id, seq);
    CREATE TABLE concurrency_limits (tag TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE cache_entries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        expiration TEXT,
        state TEXT NOT NULL
    );
    CREATE INDEX cache_entries_key ON cache_entries(key, seq);
    CREATE TABLE logs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        flow_run_id TEXT NOT NULL,
        task_run_id TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX logs_flow_run ON logs(flow_run_id, seq);
    """,
    # 2: deployments
    """
    CREATE TABLE deployments (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL
    );
    """,
]
