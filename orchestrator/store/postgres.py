"""PostgreSQL store: the same guarantees as SQLite's, over a network connection.

Commits are grouped as SQLite's are: every batch queued while the previous group was being
written goes into the next transaction, and each caller wakes once that transaction has
committed (so an ACCEPT is answered after its state is durable). A group is sent as one
query, without a savepoint per batch (postgres_writes.py); if one of its batches is refused (a
constraint, say), nothing of the group was kept, and it is written again with each batch under
its own savepoint, so the refused one fails alone and the others commit together, as in SQLite.

Writes use psycopg's async API on a connection of their own, so the event loop goes on while a
group is on the wire; reads are synchronous (see postgres_reads.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg

from .base import WriteBatch
from .errors import StoreConflict, StoreError
from .postgres_connect import (
    APPLICATION_NAME,
    READ_LOCK_TIMEOUT_MS,
    READ_TIMEOUT_MS,
    WRITE_TIMEOUT_MS,
    connect,
    connect_async,
)
from .postgres_leader import BackgroundLeader
from .postgres_listen import listen_for_notes
from .postgres_reads import PostgresReads
from .postgres_schema import CONFLICT_SQLSTATE, migrate
from .postgres_url import parse_postgres_url
from .postgres_writes import CHANGES_CHANNEL, batch_sql

log = logging.getLogger("cadenza.orchestrator.store")

Pending = list[tuple[WriteBatch, asyncio.Future]]


class PostgresStore(PostgresReads):
    # Several orchestrators may serve this database at once: writes are checked against the
    # versions read, and each tells the others what it changed (see app/replicas.py).
    shared = True

    def __init__(self, url: str) -> None:
        self.location = parse_postgres_url(url)
        self._read: psycopg.Connection | None = None
        self._write: psycopg.AsyncConnection | None = None
        self._pending: Pending = []
        self._writer_task: asyncio.Task | None = None
        self._leader = BackgroundLeader(self.location)

    @property
    def where(self) -> str:
        return self.location.where

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> None:
        conn = connect(self.location, "reads", WRITE_TIMEOUT_MS, 0)  # a migration may take its time
        try:
            migrate(conn, self.where)
            # From now on it reads, on the event loop: short waits only.
            conn.execute(f"SET statement_timeout = {READ_TIMEOUT_MS}")
            conn.execute(f"SET lock_timeout = {READ_LOCK_TIMEOUT_MS}")
        except psycopg.Error as exc:
            conn.close()
            message = f"PostgreSQL at {self.where} could not be migrated: {exc}"
            raise StoreError(self.location.hide(message)) from None
        except BaseException:
            conn.close()
            raise
        self._read = conn

    async def close(self) -> None:
        if self._pending or self._writer_task is not None:
            with contextlib.suppress(StoreError):
                await self.flush()
        if self._write is not None:
            await self._write.close()
            self._write = None
        self._leader.close()
        if self._read is not None:
            self._read.close()
            self._read = None

    # -- writes --------------------------------------------------------------------------
    async def commit(self, batch: WriteBatch) -> None:
        done = asyncio.get_running_loop().create_future()
        self._pending.append((batch, done))
        if self._writer_task is None:
            # Started at the end of this turn of the event loop: every batch queued in this
            # turn, and while a group is being written, joins the next group.
            self._writer_task = asyncio.get_running_loop().create_task(self._write_groups())
        await done

    async def flush(self) -> None:
        await self.commit(WriteBatch())

    async def _write_groups(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                await self._write_group(group)
        finally:
            self._writer_task = None

    async def _writer(self) -> psycopg.AsyncConnection:
        if self._write is None or self._write.closed:
            self._write = await connect_async(self.location)
        return self._write

    async def _write_group(self, group: Pending) -> None:
        batches = [batch for batch, _ in group if batch]
        errors: list[BaseException | None] = [None] * len(batches)
        try:
            if batches:
                conn = await self._writer()
                try:
                    await self._all_together(conn, batches)
                except psycopg.Error as exc:
                    if _lost(conn, exc):
                        raise
                    if len(batches) == 1:
                        errors[0] = exc
                        _log_refused(exc)
                    else:
                        errors = await self._each_alone(conn, batches)
        except Exception as exc:  # report to every waiter; the next group reconnects
            log.error("%s", self.location.hide(f"store commit to PostgreSQL at {self.where} failed: {exc}"))
            await self._drop_writer()
            for _, done in group:
                _settle(done, exc, self)
            return
        outcome = iter(errors)
        for batch, done in group:
            _settle(done, next(outcome) if batch else None, self)

    async def _all_together(self, conn: psycopg.AsyncConnection, batches: list[WriteBatch]) -> None:
        # One simple query: one round trip, run by the server as one transaction.
        mogrify = psycopg.AsyncClientCursor(conn).mogrify
        sql = ";\n".join(statement for batch in batches for statement in batch_sql(mogrify, batch))
        await conn.execute(sql, prepare=False)

    async def _each_alone(self, conn: psycopg.AsyncConnection, batches: list[WriteBatch]) -> list:
        """The group again, each batch under a savepoint: a refused one is undone alone."""
        mogrify = psycopg.AsyncClientCursor(conn).mogrify
        errors: list[BaseException | None] = [None] * len(batches)
        async with conn.transaction():
            for i, batch in enumerate(batches):
                try:
                    async with conn.transaction():  # nested: a savepoint
                        await conn.execute(";\n".join(batch_sql(mogrify, batch)), prepare=False)
                except psycopg.Error as exc:
                    if _lost(conn, exc):
                        raise
                    _log_refused(exc)
                    errors[i] = exc
        return errors

    def other_listeners(self) -> int:
        """How many other orchestrators listen for notes on this database now."""
        rows = self._rows(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s",
            (f"{APPLICATION_NAME} listen",),
        )
        return max(0, int(rows[0][0]) - 1)  # less this one's own

    def announce(self, note: str) -> None:
        """Send a note outside any commit (a hello)."""
        self._rows(f"SELECT pg_notify('{CHANGES_CHANNEL}', %s)", (note,))

    def leads_background(self) -> bool:
        """Whether this replica does the background work now (one replica at a time)."""
        return self._leader.leads()

    async def listen(self, on_note, on_gap) -> None:
        """Hand every note another orchestrator committed to `on_note`, until cancelled."""
        await listen_for_notes(self.location, on_note, on_gap)

    async def _drop_writer(self) -> None:
        conn, self._write = self._write, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


def _lost(conn: psycopg.AsyncConnection, exc: psycopg.Error) -> bool:
    """The connection (or the server) failed, as opposed to one batch being refused."""
    if exc.sqlstate in _ABORTED and not (conn.broken or conn.closed):
        return False
    return conn.broken or conn.closed or isinstance(exc, psycopg.OperationalError)


# A version check failed, or a unique key (an idempotency key, a task's key in its flow run)
# was taken by another orchestrator: decided on rows that changed, to be decided again. So is a
# group PostgreSQL chose to abort to break a deadlock with another replica's group (40P01), or
# a serialization failure (40001): nothing of it was kept, and deciding again resolves it.
_CONFLICTS = (CONFLICT_SQLSTATE, "23505")
_ABORTED = ("40P01", "40001")


def _is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, psycopg.Error) and exc.sqlstate in (*_CONFLICTS, *_ABORTED)


def _log_refused(exc: psycopg.Error) -> None:
    if _is_conflict(exc):
        log.debug("a change decided on rows changed meanwhile was refused: %s", exc)
    else:
        log.warning("a change could not be stored and was undone: %s", exc)


def _settle(done: asyncio.Future, error: BaseException | None, store: PostgresStore) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    elif _is_conflict(error):
        done.set_exception(StoreConflict(store.location.hide(f"changed meanwhile: {error}")))
    else:
        done.set_exception(StoreError(store.location.hide(f"could not commit to the store: {error}")))
