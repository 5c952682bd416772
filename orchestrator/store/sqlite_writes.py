"""Writing a batch of changes into the SQLite schema (inside the caller's transaction)."""

from __future__ import annotations

import json
import sqlite3

from .base import WriteBatch


def apply_batch(conn: sqlite3.Connection, b: WriteBatch) -> None:
    """Write one batch on `conn` (inside the caller's transaction)."""
    if b.flow_runs:
        conn.executemany(
            "INSERT INTO flow_runs VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
            "state_type=excluded.state_type, tags=excluded.tags, doc=excluded.doc",
            [
                (
                    r.id,
                    r.flow_name,
                    r.state_type,
                    r.parent_task_run_id,
                    r.deployment_id,
                    r.idempotency_key,
                    json.dumps(r.tags),
                    r.doc,
                )
                for r in b.flow_runs.values()
            ],
        )
    if b.task_runs:
        conn.executemany(
            "INSERT INTO task_runs VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
            "state_type=excluded.state_type, doc=excluded.doc",
            [
                (r.id, r.flow_run_id, r.task_key, r.dynamic_key, r.state_type, r.idempotency_key, r.doc)
                for r in b.task_runs.values()
            ],
        )
    if b.states:
        conn.executemany("INSERT INTO states (run_kind, run_id, id, doc) VALUES (?,?,?,?)", b.states)
    for tag, doc in b.limits.items():
        if doc is None:
            conn.execute("DELETE FROM concurrency_limits WHERE tag=?", (tag,))
        else:
            conn.execute(
                "INSERT INTO concurrency_limits VALUES (?,?) ON CONFLICT(tag) DO UPDATE SET doc=excluded.doc",
                (tag, doc),
            )
    if b.cache_entries:
        conn.executemany(
            "INSERT INTO cache_entries (key, expiration, state) VALUES (?,?,?)",
            b.cache_entries,
        )
    for dep_id, row in b.deployments.items():
        if row is None:
            conn.execute("DELETE FROM deployments WHERE id=?", (dep_id,))
        else:
            conn.execute(
                "INSERT INTO deployments VALUES (?,?,?) ON CONFLICT(id) DO UPDATE SET "
                "name=excluded.name, doc=excluded.doc",
                (dep_id, *row),
            )
    if b.logs:
        conn.executemany("INSERT INTO logs (flow_run_id, task_run_id, doc) VALUES (?,?,?)", b.logs)
