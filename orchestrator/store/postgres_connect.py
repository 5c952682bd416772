"""Connections to a PostgreSQL store, each with bounded waits, and the one line that says why
one could not be made (naming host:port/database, never the password)."""

from __future__ import annotations

from typing import Any

import psycopg

from .errors import StoreError
from .postgres_url import PostgresLocation

# How long a connection attempt may take before the database counts as unreachable.
CONNECT_TIMEOUT_SECONDS = 5
# Reads run on the event loop: a read that takes longer than this is cancelled by the server,
# and one that waits for a lock (another session's ALTER or VACUUM FULL) gives up sooner.
READ_TIMEOUT_MS = 2000
READ_LOCK_TIMEOUT_MS = 250
# A group commit, or a migration step, may take longer, but not forever.
WRITE_TIMEOUT_MS = 15000
# Data sent and not acknowledged for this long (a vanished host) breaks the connection, so a
# call never hangs on a dead network.
TCP_USER_TIMEOUT_MS = 10000

APPLICATION_NAME = "cadenza-orchestrator"


class StoreUnreachable(StoreError):
    """The database cannot be connected to (down, unknown, or refusing our credentials)."""


def _settings(purpose: str, statement_timeout_ms: int, lock_timeout_ms: int) -> dict[str, Any]:
    return {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        # pg_stat_activity tells an orchestrator's connections apart by this.
        "application_name": f"{APPLICATION_NAME} {purpose}",
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        # UTC: cache expirations are compared as timestamps, whatever the server's zone.
        "options": (
            f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={lock_timeout_ms} -c TimeZone=UTC"
        ),
        "autocommit": True,
    }


def connect(
    location: PostgresLocation,
    purpose: str = "reads",
    statement_timeout_ms: int = READ_TIMEOUT_MS,
    lock_timeout_ms: int = READ_LOCK_TIMEOUT_MS,
) -> psycopg.Connection:
    try:
        settings = _settings(purpose, statement_timeout_ms, lock_timeout_ms)
        return psycopg.connect(location.url, **settings)
    except psycopg.Error as exc:
        raise unreachable(location, exc) from None


async def connect_async(location: PostgresLocation, purpose: str = "writes") -> psycopg.AsyncConnection:
    """A connection for group commits: they may wait for locks, up to WRITE_TIMEOUT_MS."""
    try:
        settings = _settings(purpose, WRITE_TIMEOUT_MS, 0)
        return await psycopg.AsyncConnection.connect(location.url, **settings)
    except psycopg.Error as exc:
        raise unreachable(location, exc) from None


def unreachable(location: PostgresLocation, exc: BaseException) -> StoreUnreachable:
    """One line: which database, what went wrong, what to do."""
    text = str(exc)
    where = f"PostgreSQL at {location.where}"
    if "password authentication failed" in text or "no password supplied" in text:
        problem = f"refused the password of role {location.user!r}"
        advice = "check the user and password in --db (CADENZA_ORCHESTRATOR_DB)"
    elif "does not exist" in text and "database" in text:
        problem = "has no such database"
        advice = "create it (owned by the orchestrator's role) or fix the name in --db"
    elif "does not exist" in text and "role" in text:
        problem = f"has no role {location.user!r}"
        advice = "create the role or fix the user in --db"
    elif "Connection refused" in text:
        problem = "refused the connection"
        advice = "start PostgreSQL there, or fix host and port in --db (CADENZA_ORCHESTRATOR_DB)"
    elif "timeout" in text.lower():
        problem = f"did not answer within {CONNECT_TIMEOUT_SECONDS} s"
        advice = "check that the host is up and reachable, or fix --db (CADENZA_ORCHESTRATOR_DB)"
    else:
        problem = f"could not be reached ({_last_line(text)})"
        advice = "check the server and --db (CADENZA_ORCHESTRATOR_DB)"
    return StoreUnreachable(location.hide(f"{where} {problem}: {advice}"))


def _last_line(text: str) -> str:
    """The driver's own reason, on one line: libpq puts the cause after the last 'failed:'."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else "unknown error"
    return line.rsplit("failed: ", 1)[-1]
