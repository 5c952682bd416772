"""Opening the SQLite file: refusing one that is not a sound database or that another process
keeps locked (one line that names the file and what to do), migrating its schema, and moving
the WAL into it off the event loop."""

from __future__ import annotations

import logging
import sqlite3
import threading

from .errors import StoreError
from .migrations import MIGRATIONS

log = logging.getLogger("cadenza.orchestrator.store")

_HEADER = b"SQLite format 3\x00"
# How long opening waits for another process's write lock before refusing to start.
OPEN_BUSY_MS = 2000


class StoreUnusable(StoreError):
    """The database cannot be served from: damaged, not a database, or locked."""


def connect(path: str, busy_ms: int = OPEN_BUSY_MS) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _refuse(path: str, problem: str, advice: str) -> StoreUnusable:
    return StoreUnusable(f"{path} {problem}: {advice}")


def check_header(path: str) -> None:
    """A file that exists must start like a SQLite database (an empty one becomes one)."""
    if path == ":memory:":
        return
    try:
        with open(path, "rb") as f:
            header = f.read(len(_HEADER))
    except FileNotFoundError:
        return
    if header and header != _HEADER:
        raise _refuse(
            path,
            "is not a SQLite database",
            "point --db (CADENZA_ORCHESTRATOR_DB) at another file or move it away",
        )


def open_checked(path: str) -> sqlite3.Connection:
    """A connection to a sound, current database; StoreUnusable otherwise."""
    check_header(path)
    try:
        conn = connect(path)
        (verdict,) = conn.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            conn.close()
            raise _refuse(
                path, f"failed its integrity check ({verdict})", "restore it from a backup or move it away"
            )
        migrate(conn)
        conn.execute("BEGIN IMMEDIATE")  # a database another process keeps write-locked is
        conn.execute("ROLLBACK")  # refused now, not found out at the first commit
        return conn
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise _refuse(path, "is locked by another process", "stop that process and start again") from None
        raise _refuse(path, f"cannot be opened ({exc})", "check the file and its permissions") from None
    except sqlite3.DatabaseError as exc:
        raise _refuse(path, f"is damaged ({exc})", "restore it from a backup or move it away") from None


def migrate(conn: sqlite3.Connection) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > len(MIGRATIONS):
        raise StoreError(
            f"database schema version {version} is newer than this Cadenza "
            f"(knows {len(MIGRATIONS)}); upgrade Cadenza or use another --db"
        )
    for number in range(version, len(MIGRATIONS)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number + 1}")
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        log.info("store schema migrated to version %d", number + 1)


class Checkpointer(threading.Thread):
    """Moves committed WAL pages into the database file, off the event loop."""

    def __init__(self, path: str, interval: float = 0.5) -> None:
        super().__init__(name="cadenza-store-checkpoint", daemon=True)
        self.path = path
        self.interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        conn = connect(self.path)
        try:
            while not self._stop_event.wait(self.interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    log.warning("WAL checkpoint failed; will retry", exc_info=True)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)
