"""The PostgreSQL store's reads: the same answers, and the same page tokens, as SQLite's.

They are synchronous (the Store protocol's reads are) and run on the event loop, on a
connection of their own in autocommit mode, so each sees every commit made before it. They are
few, since the orchestrator keeps its runs in memory, and bounded: the server cancels a read
that takes longer than READ_TIMEOUT_MS or waits READ_LOCK_TIMEOUT_MS for a lock (the read then
fails as UNAVAILABLE, to be retried), and a broken connection is replaced once per read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg

from ..core.models import TERMINAL_TYPES, ConcurrencyLimit, Deployment, FlowRun, State, TaskRun
from . import codec
from .base import FlowRunFilter, Page
from .errors import StoreError
from .pages import decode_token, encode_token, page_limit
from .postgres_connect import connect
from .postgres_text import pg_text, pg_texts
from .postgres_url import PostgresLocation

_FINAL = [t.value for t in TERMINAL_TYPES]


class PostgresReads:
    location: PostgresLocation
    _read: psycopg.Connection | None

    def _rows(self, sql: str, args: list[Any] | tuple[Any, ...]) -> list[tuple[Any, ...]]:
        for attempt in (1, 2):
            conn = self._read
            if conn is None or conn.closed:
                conn = self._read = connect(self.location)
            try:
                return conn.execute(sql, args).fetchall()
            except psycopg.OperationalError as exc:
                if conn.broken and attempt == 1:
                    conn.close()  # the server went away and perhaps came back: once more
                    continue
                raise StoreError(self.location.hide(f"could not read from the store: {exc}")) from None
        raise AssertionError("unreachable")

    def _one(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        rows = self._rows(sql, args)
        return rows[0] if rows else None

    def get_flow_run(self, flow_run_id: str) -> FlowRun | None:
        row = self._one("SELECT doc, version FROM flow_runs WHERE id = %s", (pg_text(flow_run_id),))
        return _flow_run(row) if row else None

    def get_task_run(self, task_run_id: str) -> TaskRun | None:
        row = self._one("SELECT doc, version FROM task_runs WHERE id = %s", (pg_text(task_run_id),))
        return _task_run(row) if row else None

    def find_flow_run_by_idempotency_key(self, key: str) -> FlowRun | None:
        row = self._one("SELECT doc, version FROM flow_runs WHERE idempotency_key = %s", (pg_text(key),))
        return _flow_run(row) if row else None

    def find_task_run(self, flow_run_id: str, task_key: str, dynamic_key: str) -> TaskRun | None:
        row = self._one(
            "SELECT doc, version FROM task_runs WHERE flow_run_id = %s AND task_key = %s AND dynamic_key = %s",
            (pg_text(flow_run_id), pg_text(task_key), pg_text(dynamic_key)),
        )
        return _task_run(row) if row else None

    def find_task_run_by_idempotency_key(self, key: str) -> TaskRun | None:
        row = self._one("SELECT doc, version FROM task_runs WHERE idempotency_key = %s", (pg_text(key),))
        return _task_run(row) if row else None

    def list_flow_runs(self, flt: FlowRunFilter, page_size: int, page_token: str) -> Page:
        where: list[str] = ["seq > %s"]
        args: list[Any] = [decode_token(page_token)]
        if flt.state_types:
            where.append("state_type = ANY(%s)")
            args.append(flt.state_types)
        if flt.parent_task_run_id:
            where.append("parent_task_run_id = %s")
            args.append(pg_text(flt.parent_task_run_id))
        if flt.flow_name:
            where.append("flow_name = %s")
            args.append(pg_text(flt.flow_name))
        if flt.deployment_id:
            where.append("deployment_id = %s")
            args.append(pg_text(flt.deployment_id))
        if flt.tags:
            where.append("tags @> %s::text[]")  # every tag asked for, as SQLite's json_each does
            args.append(pg_texts(flt.tags))
        sql = f"SELECT seq, doc, version FROM flow_runs WHERE {' AND '.join(where)} ORDER BY seq"
        return self._page(sql, args, page_size, _flow_run)

    def list_task_runs(
        self, flow_run_id: str, state_types: list[str], page_size: int, page_token: str
    ) -> Page:
        where: list[str] = ["seq > %s"]
        args: list[Any] = [decode_token(page_token)]
        if flow_run_id:
            where.append("flow_run_id = %s")
            args.append(pg_text(flow_run_id))
        if state_types:
            where.append("state_type = ANY(%s)")
            args.append(state_types)
        sql = f"SELECT seq, doc, version FROM task_runs WHERE {' AND '.join(where)} ORDER BY seq"
        return self._page(sql, args, page_size, _task_run)

    def _page(self, sql: str, args: list[Any], page_size: int, decode: Callable[[tuple], Any]) -> Page:
        size = page_limit(page_size)
        rows = self._rows(f"{sql} LIMIT %s", [*args, size + 1])
        more = len(rows) > size
        rows = rows[:size]
        token = encode_token(rows[-1][0]) if more and rows else ""
        return Page([decode(row[1:]) for row in rows], token)

    def read_states(self, run_id: str) -> list[State]:
        rows = self._rows("SELECT doc FROM states WHERE run_id = %s ORDER BY seq", (pg_text(run_id),))
        return [codec.loads_state(doc) for (doc,) in rows]

    def list_limits(self) -> list[ConcurrencyLimit]:
        rows = self._rows('SELECT doc, version FROM concurrency_limits ORDER BY tag COLLATE "C"', ())
        return [_limit(row) for row in rows]

    def limits_on(self, tags: list[str]) -> list[ConcurrencyLimit]:
        rows = self._rows(
            "SELECT doc, version FROM concurrency_limits WHERE tag = ANY(%s)", (pg_texts(tags),)
        )
        return [_limit(row) for row in rows]

    def current_versions(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The stored version of each (kind, id) asked for ("flow", "task" or "limit"); absent
        rows are left out."""
        ids: dict[str, list[str]] = {"flow": [], "task": [], "limit": []}
        for kind, key in keys:
            ids[kind].append(pg_text(key))
        rows = self._rows(
            "SELECT 'flow', id, version FROM flow_runs WHERE id = ANY(%s) UNION ALL "
            "SELECT 'task', id, version FROM task_runs WHERE id = ANY(%s) UNION ALL "
            "SELECT 'limit', tag, version FROM concurrency_limits WHERE tag = ANY(%s)",
            (ids["flow"], ids["task"], ids["limit"]),
        )
        return {(kind, key): int(version) for kind, key, version in rows}

    def lookup_cache(self, key: str, now: datetime) -> State | None:
        row = self._one(
            "SELECT state FROM cache_entries WHERE key = %s AND (expiration IS NULL OR expiration > %s) "
            "ORDER BY seq DESC LIMIT 1",
            (pg_text(key), now),
        )
        return codec.loads_state(row[0]) if row else None

    def read_logs(self, flow_run_id: str, task_run_id: str, page_size: int, page_token: str) -> Page:
        where: list[str] = ["seq > %s", "flow_run_id = %s"]
        args: list[Any] = [decode_token(page_token), pg_text(flow_run_id)]
        if task_run_id:
            where.append("task_run_id = %s")
            args.append(pg_text(task_run_id))
        sql = f"SELECT seq, doc FROM logs WHERE {' AND '.join(where)} ORDER BY seq"
        return self._page(sql, args, page_size, lambda row: json.loads(row[0]))

    def list_deployments(self) -> list[Deployment]:
        rows = self._rows('SELECT doc FROM deployments ORDER BY name COLLATE "C"', ())
        return [codec.deployment_from_doc(doc) for (doc,) in rows]

    def non_final_flow_runs(self) -> list[FlowRun]:
        rows = self._rows("SELECT doc, version FROM flow_runs WHERE state_type <> ALL(%s)", (_FINAL,))
        return [_flow_run(row) for row in rows]


def _flow_run(row: tuple) -> FlowRun:
    run = codec.flow_run_from_doc(row[0])
    run.version = int(row[1])
    return run


def _task_run(row: tuple) -> TaskRun:
    run = codec.task_run_from_doc(row[0])
    run.version = int(row[1])
    return run


def _limit(row: tuple) -> ConcurrencyLimit:
    limit = codec.limit_from_doc(row[0])
    limit.version = int(row[1])
    return limit
