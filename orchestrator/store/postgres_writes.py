"""A batch of changes as SQL text for the PostgreSQL schema: the same writes, in the same order,
as sqlite_writes.py, one multi-row statement per table.

The values are quoted into the text by psycopg's client-side binding (`mogrify`, the quoting
its ClientCursor uses), so that a whole group commit goes to the server as ONE simple query:
one round trip, and PostgreSQL runs a multi-statement query as one transaction of its own. Sent
with the extended protocol, the same group cost twice as much, in the driver's Python more than
on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .base import WriteBatch
from .postgres_text import pg_text, pg_texts

CHANGES_CHANNEL = "cadenza_changes"

Mogrify = Callable[[str, Sequence[Any]], str]

# Rows are written only over the version they were read at (EXCLUDED.prior_version): a row
# another orchestrator changed meanwhile is left alone, the count falls short, and
# cadenza_expect refuses the whole batch as a conflict.
_CHECKED = "WITH w AS ({} RETURNING 1) SELECT cadenza_expect((SELECT count(*) FROM w) = {}, {})"
_FLOW_RUNS = (
    "INSERT INTO flow_runs (id, flow_name, state_type, parent_task_run_id, deployment_id, "
    "idempotency_key, tags, doc, version, prior_version) VALUES {} "
    "ON CONFLICT (id) DO UPDATE SET state_type = EXCLUDED.state_type, tags = EXCLUDED.tags, "
    "doc = EXCLUDED.doc, version = EXCLUDED.version, prior_version = EXCLUDED.prior_version "
    "WHERE flow_runs.version = EXCLUDED.prior_version"
)
_FLOW_RUN_ROW = "(%s, %s, %s, %s, %s, %s, %s::text[], %s, %s, %s)"
_TASK_RUNS = (
    "INSERT INTO task_runs (id, flow_run_id, task_key, dynamic_key, state_type, idempotency_key, doc, "
    "version, prior_version) VALUES {} ON CONFLICT (id) DO UPDATE SET state_type = EXCLUDED.state_type, "
    "doc = EXCLUDED.doc, version = EXCLUDED.version, prior_version = EXCLUDED.prior_version "
    "WHERE task_runs.version = EXCLUDED.prior_version"
)
_TASK_RUN_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
_STATES = "INSERT INTO states (run_kind, run_id, id, doc) VALUES {}"
_STATE_ROW = "(%s, %s, %s, %s)"
_LIMIT = (
    "INSERT INTO concurrency_limits (tag, doc, version, prior_version) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (tag) DO UPDATE SET doc = EXCLUDED.doc, version = EXCLUDED.version, "
    "prior_version = EXCLUDED.prior_version WHERE concurrency_limits.version = EXCLUDED.prior_version"
)
# A row read and not written must still be at the version read. It is not locked (FOR SHARE
# would write a lock into the row, and many tasks' commits reading one flow run would make
# each a multixact): a change committed to it after this check orders after this commit, as
# if it had come a moment later, since that change reads nothing this one writes.
_READ_TABLES = {
    "flow": ("flow_runs", "id"),
    "task": ("task_runs", "id"),
    "limit": ("concurrency_limits", "tag"),
}
_STILL = "SELECT cadenza_expect(EXISTS (SELECT 1 FROM {} WHERE {} = %s AND version = %s), %s)"
_CACHE_ENTRIES = "INSERT INTO cache_entries (key, expiration, state) VALUES {}"
_CACHE_ENTRY_ROW = "(%s, %s::timestamptz, %s)"
_DEPLOYMENT = (
    "INSERT INTO deployments (id, name, doc) VALUES (%s, %s, %s) "
    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, doc = EXCLUDED.doc"
)
_LOGS = "INSERT INTO logs (flow_run_id, task_run_id, doc) VALUES {}"
_LOG_ROW = "(%s, %s, %s)"


def batch_sql(mogrify: Mogrify, b: WriteBatch) -> list[str]:
    """The statements that write batch `b` (at least one for a non-empty batch)."""
    out: list[str] = []

    def rows(statement: str, row: str, values: Sequence[Sequence[Any]]) -> None:
        # Rows of one statement are inserted in the order given, so `seq` keeps creation order.
        out.append(statement.format(", ".join(mogrify(row, v) for v in values)))

    def checked(statement: str, row: str, values: Sequence[Sequence[Any]], what: str) -> None:
        rows(statement, row, values)
        out[-1] = _CHECKED.format(out[-1], len(values), mogrify("%s", (what,)))

    for kind, key, version in b.reads:
        table, column = _READ_TABLES[kind]
        what = f"the {kind} {key} changed through another orchestrator"
        out.append(mogrify(_STILL.format(table, column), (pg_text(key), version, pg_text(what))))
    if b.flow_runs:
        checked(
            _FLOW_RUNS,
            _FLOW_RUN_ROW,
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
                    r.version,
                    r.prior,
                )
                for r in b.flow_runs.values()
            ],
            "a flow run changed through another orchestrator",
        )
    if b.task_runs:
        checked(
            _TASK_RUNS,
            _TASK_RUN_ROW,
            [
                (
                    pg_text(r.id),
                    pg_text(r.flow_run_id),
                    pg_text(r.task_key),
                    pg_text(r.dynamic_key),
                    r.state_type,
                    pg_text(r.idempotency_key),
                    r.doc,
                    r.version,
                    r.prior,
                )
                for r in b.task_runs.values()
            ],
            "a task run changed through another orchestrator",
        )
    if b.states:
        rows(
            _STATES, _STATE_ROW, [(kind, pg_text(run), pg_text(sid), doc) for kind, run, sid, doc in b.states]
        )
    for tag, doc in b.limits.items():
        if doc is None:
            out.append(mogrify("DELETE FROM concurrency_limits WHERE tag = %s", (pg_text(tag),)))
        else:
            prior, version = b.limit_versions[tag]
            write = mogrify(_LIMIT, (pg_text(tag), doc, version, prior))
            what = mogrify("%s", (pg_text(f"the limit on {tag} changed through another orchestrator"),))
            out.append(_CHECKED.format(write, 1, what))
    if b.cache_entries:
        rows(_CACHE_ENTRIES, _CACHE_ENTRY_ROW, [(pg_text(key), exp, st) for key, exp, st in b.cache_entries])
    for dep_id, row in b.deployments.items():
        if row is None:
            out.append(mogrify("DELETE FROM deployments WHERE id = %s", (pg_text(dep_id),)))
        else:
            name, doc = row
            out.append(mogrify(_DEPLOYMENT, (pg_text(dep_id), pg_text(name), doc)))
    if b.logs:
        rows(_LOGS, _LOG_ROW, [(pg_text(flow), pg_text(task), doc) for flow, task, doc in b.logs])
    # Sent to the other orchestrators' LISTEN when (and only if) this batch commits.
    out.extend(mogrify("SELECT pg_notify(%s, %s)", (CHANGES_CHANNEL, note)) for note in b.notes)
    return out
