"""SQLite store: WAL mode, group commit at the end of each event-loop turn.

Every decision the event loop makes is queued as a `WriteBatch`; at the end of the loop's
current turn all queued batches are written in ONE transaction and committed, and only then
are their callers woken. So an ACCEPT is answered after its state is durable, and a burst of
proposals costs one commit. The commit runs on the loop thread: with WAL and
synchronous=NORMAL it does not fsync, and a hop to a writer thread cost more than it saved.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from ..core.models import TERMINAL_TYPES, ConcurrencyLimit, Deployment, FlowRun, State, TaskRun
from . import codec
from .base import FlowRunFilter, Page, WriteBatch
from .errors import PageTokenError, StoreError
from .pages import decode_token, encode_token, page_limit
from .sqlite_files import Checkpointer, connect, open_checked
from .sqlite_writes import apply_batch

# The writer never waits inside SQLite for another process's lock (that would stall the event
# loop): a busy database is tried again from the loop, for this long, before commits fail.
COMMIT_PATIENCE_SECONDS = 5.0
# Reads wait at most this long in SQLite; in WAL mode they almost never have to.
READ_BUSY_MS = 50

log = logging.getLogger("cadenza.orchestrator.store")


class SQLiteStore:
    def __init__(self, path: str | Path, synchronous: str = "NORMAL") -> None:
        # NORMAL in WAL mode survives a killed process (SIGKILL); FULL also survives power loss.
        self.path = str(path)
        self.synchronous = synchronous
        self._pending: list[tuple[WriteBatch, asyncio.Future]] = []
        self._flush_scheduled = False
        self._write: sqlite3.Connection | None = None
        self._read: sqlite3.Connection | None = None
        self._checkpointer: Checkpointer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy_since: float | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        write = open_checked(self.path)
        write.execute("PRAGMA busy_timeout=0")
        write.execute(f"PRAGMA synchronous={self.synchronous}")
        # Checkpoints copy the WAL into the database and fsync; done inline they stall the
        # event loop every thousand pages, so a background thread does them instead.
        write.execute("PRAGMA wal_autocheckpoint=0")
        self._read = connect(self.path, READ_BUSY_MS)
        self._write = write
        self._checkpointer = Checkpointer(self.path)
        self._checkpointer.start()

    async def close(self) -> None:
        if self._pending:
            self._flush_pending()
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._write is not None:
            self._write.close()
            self._write = None
        if self._read is not None:
            self._read.close()
            self._read = None

    def _reader(self) -> sqlite3.Connection:
        if self._read is None:
            raise StoreError(f"the store {self.path} is not open")
        return self._read

    def _writer(self) -> sqlite3.Connection:
        if self._write is None:
            raise StoreError(f"the store {self.path} is not open")
        return self._write

    # -- writes --------------------------------------------------------------------------
    async def commit(self, batch: WriteBatch) -> None:
        loop = self._loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._pending.append((batch, done))
        if not self._flush_scheduled:
            # Group commit: every batch queued during this turn of the event loop is written
            # in one transaction at the end of the turn, and each caller wakes after it.
            self._flush_scheduled = True
            loop.call_soon(self._flush_pending)
        await done

    async def flush(self) -> None:
        await self.commit(WriteBatch())

    def _begin(self, conn: sqlite3.Connection, pending: list) -> bool:
        """Open the write transaction; when another process holds the lock, put the batches
        back and try again shortly from the loop (False), or fail them once out of patience."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            now = time.monotonic()
            self._busy_since = self._busy_since or now
            if (
                self._loop is not None
                and self._loop.is_running()
                and now - self._busy_since < COMMIT_PATIENCE_SECONDS
            ):
                self._pending[:0] = pending
                self._flush_scheduled = True
                self._loop.call_later(0.02, self._flush_pending)
                return False
            log.error("the database %s stayed locked by another process: %s", self.path, exc)
            self._busy_since = None
            for _, done in pending:
                _settle(done, exc)
            return False
        self._busy_since = None
        return True

    def _flush_pending(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        # Each batch is written under its own savepoint, so a batch that fails (a constraint,
        # say) is undone alone and fails alone; the others commit together.
        errors: list[BaseException | None] = [None] * len(pending)
        error: BaseException | None = None
        conn = self._writer()
        if not self._begin(conn, pending):
            return
        try:
            alone = len(pending) == 1  # a lone batch fails alone anyway: no savepoint needed
            for i, (batch, _) in enumerate(pending):
                if not batch:
                    continue
                if alone:
                    apply_batch(conn, batch)
                    continue
                conn.execute("SAVEPOINT batch")
                try:
                    apply_batch(conn, batch)
                except sqlite3.Error as exc:
                    log.warning("a change could not be stored and was undone: %s", exc)
                    errors[i] = exc
                    conn.execute("ROLLBACK TO batch")
                conn.execute("RELEASE batch")
            conn.execute("COMMIT")
        except BaseException as exc:  # report to every waiter; the store stays usable
            error = exc
            log.exception("store commit failed")
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        for (_, done), own in zip(pending, errors):
            _settle(done, error or own)

    # -- reads (on the caller's thread; WAL lets them run beside the writer) ---------------
    def _one(self, sql: str, args: tuple) -> tuple | None:
        return self._reader().execute(sql, args).fetchone()

    def get_flow_run(self, flow_run_id: str) -> FlowRun | None:
        row = self._one("SELECT doc FROM flow_runs WHERE id=?", (flow_run_id,))
        return codec.flow_run_from_doc(row[0]) if row else None

    def get_task_run(self, task_run_id: str) -> TaskRun | None:
        row = self._one("SELECT doc FROM task_runs WHERE id=?", (task_run_id,))
        return codec.task_run_from_doc(row[0]) if row else None

    def find_flow_run_by_idempotency_key(self, key: str) -> FlowRun | None:
        row = self._one("SELECT doc FROM flow_runs WHERE idempotency_key=?", (key,))
        return codec.flow_run_from_doc(row[0]) if row else None

    def find_task_run(self, flow_run_id: str, task_key: str, dynamic_key: str) -> TaskRun | None:
        row = self._one(
            "SELECT doc FROM task_runs WHERE flow_run_id=? AND task_key=? AND dynamic_key=?",
            (flow_run_id, task_key, dynamic_key),
        )
        return codec.task_run_from_doc(row[0]) if row else None

    def find_task_run_by_idempotency_key(self, key: str) -> TaskRun | None:
        row = self._one("SELECT doc FROM task_runs WHERE idempotency_key=?", (key,))
        return codec.task_run_from_doc(row[0]) if row else None

    def list_flow_runs(self, flt: FlowRunFilter, page_size: int, page_token: str) -> Page:
        where: list[str] = ["rowid > ?"]
        args: list[object] = [decode_token(page_token)]
        if flt.state_types:
            where.append(f"state_type IN ({','.join('?' * len(flt.state_types))})")
            args += flt.state_types
        if flt.parent_task_run_id:
            where.append("parent_task_run_id = ?")
            args.append(flt.parent_task_run_id)
        if flt.flow_name:
            where.append("flow_name = ?")
            args.append(flt.flow_name)
        if flt.deployment_id:
            where.append("deployment_id = ?")
            args.append(flt.deployment_id)
        for tag in flt.tags:
            where.append("EXISTS (SELECT 1 FROM json_each(flow_runs.tags) WHERE value = ?)")
            args.append(tag)
        return self._page(
            f"SELECT rowid, doc FROM flow_runs WHERE {' AND '.join(where)} ORDER BY rowid",
            args,
            page_size,
            codec.flow_run_from_doc,
        )

    def list_task_runs(
        self, flow_run_id: str, state_types: list[str], page_size: int, page_token: str
    ) -> Page:
        where: list[str] = ["rowid > ?"]
        args: list[object] = [decode_token(page_token)]
        if flow_run_id:
            where.append("flow_run_id = ?")
            args.append(flow_run_id)
        if state_types:
            where.append(f"state_type IN ({','.join('?' * len(state_types))})")
            args += state_types
        return self._page(
            f"SELECT rowid, doc FROM task_runs WHERE {' AND '.join(where)} ORDER BY rowid",
            args,
            page_size,
            codec.task_run_from_doc,
        )

    def _page(self, sql: str, args: list[object], page_size: int, decode) -> Page:
        size = page_limit(page_size)
        rows = self._reader().execute(f"{sql} LIMIT ?", (*args, size + 1)).fetchall()
        more = len(rows) > size
        rows = rows[:size]
        token = encode_token(rows[-1][0]) if more and rows else ""
        return Page([decode(doc) for _, doc in rows], token)

    def read_states(self, run_id: str) -> list[State]:
        rows = (
            self._reader().execute("SELECT doc FROM states WHERE run_id=? ORDER BY seq", (run_id,)).fetchall()
        )
        return [codec.loads_state(doc) for (doc,) in rows]

    def list_limits(self) -> list[ConcurrencyLimit]:
        rows = self._reader().execute("SELECT doc FROM concurrency_limits ORDER BY tag").fetchall()
        return [codec.limit_from_doc(doc) for (doc,) in rows]

    def lookup_cache(self, key: str, now: datetime) -> State | None:
        row = self._one(
            "SELECT state FROM cache_entries WHERE key=? AND (expiration IS NULL OR expiration > ?) "
            "ORDER BY seq DESC LIMIT 1",
            (key, now.isoformat()),
        )
        return codec.loads_state(row[0]) if row else None

    def read_logs(self, flow_run_id: str, task_run_id: str, page_size: int, page_token: str) -> Page:
        where: list[str] = ["seq > ?", "flow_run_id = ?"]
        args: list[object] = [decode_token(page_token), flow_run_id]
        if task_run_id:
            where.append("task_run_id = ?")
            args.append(task_run_id)
        sql = f"SELECT seq, doc FROM logs WHERE {' AND '.join(where)} ORDER BY seq"
        return self._page(sql, args, page_size, json.loads)

    def list_deployments(self) -> list[Deployment]:
        rows = self._reader().execute("SELECT doc FROM deployments ORDER BY name").fetchall()
        return [codec.deployment_from_doc(doc) for (doc,) in rows]

    def non_final_flow_runs(self) -> list[FlowRun]:
        final = tuple(t.value for t in TERMINAL_TYPES)
        rows = (
            self._reader()
            .execute(
                f"SELECT doc FROM flow_runs WHERE state_type NOT IN ({','.join('?' * len(final))})",
                final,
            )
            .fetchall()
        )
        return [codec.flow_run_from_doc(doc) for (doc,) in rows]


def _settle(done: asyncio.Future, error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(StoreError(f"could not commit to the store: {error}"))


__all__ = ["SQLiteStore", "StoreError", "PageTokenError"]
