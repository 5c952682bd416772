"""Writing a batch of changes into the PostgreSQL schema (inside the caller's transaction).

The same writes, in the same order, as sqlite_writes.py. Under the caller's pipeline every
statement is sent without waiting for the one before, so a batch costs no round trip of its own.
"""

from __future__ import annotations

import psycopg

from .base import WriteBatch
from .postgres_text import pg_text, pg_texts

_FLOW_RUN = (
    "INSERT INTO flow_runs (id, flow_name, state_type, parent_task_run_id, deployment_id, "
    "idempotency_key, tags, doc) VALUES (%s, %s, %s, %s, %s, %s, %s::text[], %s) "
    "ON CONFLICT (id) DO UPDATE SET state_type = EXCLUDED.state_type, tags = EXCLUDED.tags, "
    "doc = EXCLUDED.doc"
)
_TASK_RUN = (
    "INSERT INTO task_runs (id, flow_run_id, task_key, dynamic_key, state_type, idempotency_key, doc) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (id) DO UPDATE SET state_type = EXCLUDED.state_type, doc = EXCLUDED.doc"
)
_STATE = "INSERT INTO states (run_kind, run_id, id, doc) VALUES (%s, %s, %s, %s)"
_LIMIT = (
    "INSERT INTO concurrency_limits (tag, doc) VALUES (%s, %s) "
    "ON CONFLICT (tag) DO UPDATE SET doc = EXCLUDED.doc"
)
_CACHE_ENTRY = "INSERT INTO cache_entries (key, expiration, state) VALUES (%s, %s::timestamptz, %s)"
_DEPLOYMENT = (
    "INSERT INTO deployments (id, name, doc) VALUES (%s, %s, %s) "
    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, doc = EXCLUDED.doc"
)
_LOG = "INSERT INTO logs (flow_run_id, task_run_id, doc) VALUES (%s, %s, %s)"


async def apply_batch(cur: psycopg.AsyncCursor, b: WriteBatch) -> None:
    """Write one batch with `cur` (inside the caller's transaction)."""
    if b.flow_runs:
        await cur.executemany(
            _FLOW_RUN,
            [
                (
                    pg_text(r.id),
                    pg_text(r.flow_name),
                    r.state_type,
                    pg_text(r.parent_task_run_id),
                    pg_text(r.deployment_id),
                    pg_text(r.idempotency_key),
                    pg_texts(r.tags),
                    r.doc,
                )
                for r in b.flow_runs.values()
            ],
        )
    if b.task_runs:
        await cur.executemany(
            _TASK_RUN,
            [
                (
                    pg_text(r.id),
                    pg_text(r.flow_run_id),
                    pg_text(r.task_key),
                    pg_text(r.dynamic_key),
                    r.state_type,
                    pg_text(r.idempotency_key),
                    r.doc,
                )
                for r in b.task_runs.values()
            ],
        )
    if b.states:
        await cur.executemany(
            _STATE, [(kind, pg_text(run), pg_text(sid), doc) for kind, run, sid, doc in b.states]
        )
    for tag, doc in b.limits.items():
        if doc is None:
            await cur.execute("DELETE FROM concurrency_limits WHERE tag = %s", (pg_text(tag),))
        else:
            await cur.execute(_LIMIT, (pg_text(tag), doc))
    if b.cache_entries:
        await cur.executemany(_CACHE_ENTRY, [(pg_text(key), exp, st) for key, exp, st in b.cache_entries])
    for dep_id, row in b.deployments.items():
        if row is None:
            await cur.execute("DELETE FROM deployments WHERE id = %s", (pg_text(dep_id),))
        else:
            name, doc = row
            await cur.execute(_DEPLOYMENT, (pg_text(dep_id), pg_text(name), doc))
    if b.logs:
        await cur.executemany(_LOG, [(pg_text(flow), pg_text(task), doc) for flow, task, doc in b.logs])
