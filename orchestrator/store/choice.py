"""Which store a database location names: a postgresql:// URL is PostgreSQL, anything else a
SQLite file (the embedded default). Each comes with its lock: a SQLite file has one orchestrator;
a PostgreSQL database has any number of replicas, and a standby waits until none is left."""

from __future__ import annotations

from typing import Protocol

from .base import Store
from .postgres_url import is_postgres_url, parse_postgres_url


class StoreOwnership(Protocol):
    def acquire(self) -> None:
        """Take the database for this process, or raise StoreInUse naming the holder."""
        ...

    def publish(self, address: str) -> None:
        """Tell others where this process serves it."""
        ...

    def release(self) -> None: ...


def store_for(
    database: str, synchronous: str = "NORMAL", standby: bool = False
) -> tuple[Store, StoreOwnership]:
    """The store and its ownership lock, neither opened yet. A standby's lock is granted only
    once no other orchestrator serves the database."""
    if is_postgres_url(database):
        # psycopg is imported only by those who use PostgreSQL.
        from .postgres import PostgresStore
        from .postgres_owner import PostgresOwnerLock

        return PostgresStore(database), PostgresOwnerLock(database, standby)
    from .ownership import StoreLock
    from .sqlite import SQLiteStore

    return SQLiteStore(database, synchronous), StoreLock(database)


def describe(database: str) -> str:
    """How logs name the database: the file, or the URL without its password."""
    if is_postgres_url(database):
        location = parse_postgres_url(database)
        return f"postgresql://{location.user}@{location.where}"
    return database
