"""Who serves a PostgreSQL database: any number of replicas at once, or a standby once none do.

Replicas share the database as the authority (versions checked on write, notes between them;
see app/replicas.py), so an ordinary `orchestrator serve` never refuses: it holds the owner
advisory lock SHARED, on a connection of its own, for as long as it serves. A standby
(`serve --standby`) asks for the same lock EXCLUSIVE, so it is granted only when no replica
serves any more; then it serves (and replicas started later serve beside it). PostgreSQL drops
a session's locks when its connection ends (the process exited or was killed).
"""

from __future__ import annotations

import contextlib
import logging

import psycopg

from .ownership import StoreInUse
from .postgres_connect import APPLICATION_NAME, connect, unreachable
from .postgres_schema import LOCK_SPACE, OWNER_LOCK
from .postgres_url import PostgresLocation, parse_postgres_url

log = logging.getLogger("cadenza.orchestrator.store")

OWNER_PATIENCE_MS = 1000
# The holder's address, as other sessions see it (application_name, at most 63 bytes).
_SERVING = f"{APPLICATION_NAME} at "

_HOLDER = """
    SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.database = (
        SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = %s::oid AND l.objid = %s::oid AND l.objsubid = 2
"""


class PostgresOwnerLock:
    def __init__(self, url: str, standby: bool = False) -> None:
        self.location: PostgresLocation = parse_postgres_url(url)
        self.standby = standby
        self._conn: psycopg.Connection | None = None

    def acquire(self) -> None:
        # A holder killed a moment ago may hold the lock until its server process notices.
        conn = connect(self.location, "owner", OWNER_PATIENCE_MS * 2, OWNER_PATIENCE_MS)
        take = "pg_try_advisory_lock" if self.standby else "pg_try_advisory_lock_shared"
        try:
            row = conn.execute(f"SELECT {take}(%s, %s)", (LOCK_SPACE, OWNER_LOCK)).fetchone()
        except psycopg.Error as exc:
            conn.close()
            raise unreachable(self.location, exc) from None
        self._conn = conn
        if row and row[0]:
            return
        if not self.standby:
            # A standby that took over serves now; serving beside it is safe.
            log.info(
                "PostgreSQL at %s is also served by %s",
                self.location.where,
                self._holder(conn) or "a standby",
            )
            return
        holder = self._holder(conn)
        self._conn = None
        conn.close()
        where = f"the orchestrator at {holder}" if holder else "other orchestrators"
        raise StoreInUse(f"PostgreSQL at {self.location.where} is served by {where}")

    def _holder(self, conn: psycopg.Connection) -> str:
        with contextlib.suppress(psycopg.Error):
            for (name,) in conn.execute(_HOLDER, (LOCK_SPACE, OWNER_LOCK)).fetchall():
                if name and name.startswith(_SERVING):
                    return name[len(_SERVING) :]
        return ""

    def publish(self, address: str) -> None:
        """Let a second orchestrator name this one's address when it refuses."""
        if self._conn is None:
            return
        with contextlib.suppress(psycopg.Error):
            self._conn.execute("SELECT set_config('application_name', %s, false)", (_SERVING + address,))

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()  # ending the session drops the lock
