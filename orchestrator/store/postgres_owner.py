"""One orchestrator per PostgreSQL database, FOR NOW.

The orchestrator still keeps its runs in memory as the authority, so two of them on one database
would disagree. Until replicas share the database as the authority, the one serving holds a
session-level advisory lock on a connection of its own; a second one refuses to start, naming
the database and, when it can, the holder's address. PostgreSQL drops the lock when the holder's
connection ends (the process exited or was killed).

Temporary: when replicas land, this lock goes (the schema and the migration lock stay).
"""

from __future__ import annotations

import contextlib

import psycopg

from .ownership import StoreInUse
from .postgres_connect import APPLICATION_NAME, connect, unreachable
from .postgres_schema import LOCK_SPACE, OWNER_LOCK
from .postgres_url import PostgresLocation, parse_postgres_url

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
    def __init__(self, url: str) -> None:
        self.location: PostgresLocation = parse_postgres_url(url)
        self._conn: psycopg.Connection | None = None

    def acquire(self) -> None:
        # A holder killed a moment ago may hold the lock until its server process notices.
        conn = connect(self.location, "owner", OWNER_PATIENCE_MS * 2, OWNER_PATIENCE_MS)
        try:
            conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_SPACE, OWNER_LOCK))
            self._conn = conn
            return
        except psycopg.errors.LockNotAvailable:
            pass
        except psycopg.Error as exc:
            conn.close()
            raise unreachable(self.location, exc) from None
        holder = self._holder(conn)
        conn.close()
        where = f"the orchestrator at {holder}" if holder else "another orchestrator"
        use = f"use it (CADENZA_ORCHESTRATOR={holder}) or " if holder else ""
        raise StoreInUse(
            f"PostgreSQL at {self.location.where} is already served by {where}: {use}stop it first "
            "(one orchestrator per database until replicas are supported)"
        )

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
