"""Which replica does the background work (lease expiry, pause expiry, Late runs, schedules):
the one holding a session-level advisory lock, on a connection of its own.

Each replica asks before every round; the holder keeps the lock for as long as its session
lives, and when it dies PostgreSQL drops the lock and the next replica to ask takes it. The
work stays correct if two replicas ever overlap (each change is version-checked, and a
schedule's runs carry idempotency keys); the lock keeps it from being done N times.
"""

from __future__ import annotations

import contextlib
import time

import psycopg

from .postgres_connect import connect
from .postgres_schema import BACKGROUND_LOCK, LOCK_SPACE
from .postgres_url import PostgresLocation

# How long an answer holds: rounds come every half second or so from several loops.
RECHECK_SECONDS = 0.5


class BackgroundLeader:
    def __init__(self, location: PostgresLocation) -> None:
        self.location = location
        self._conn: psycopg.Connection | None = None
        self._leading = False
        self._checked = 0.0

    def leads(self) -> bool:
        """Whether this replica does the background work now (taking it on if nobody does)."""
        now = time.monotonic()
        if now - self._checked < RECHECK_SECONDS:
            return self._leading
        self._checked = now
        try:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.location, "background")
                self._leading = False
            if self._leading:
                self._conn.execute("SELECT 1")  # still our session, so still our lock
            else:
                row = self._conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_SPACE, BACKGROUND_LOCK)
                ).fetchone()
                self._leading = bool(row and row[0])
        except psycopg.Error:
            self.close()  # the session (and with it the lock) is gone: ask again next round
        return self._leading

    def close(self) -> None:
        conn, self._conn, self._leading = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()
