"""Store failures made real: a trigger in the test's database aborts the writes the test picks,
as a full disk or a broken row would, while the rest of the database works. For SQLite and
PostgreSQL alike."""

from __future__ import annotations

import sqlite3

import psycopg

from orchestrator.store.postgres_url import is_postgres_url


def poison(database: str, table: str, condition: str, message: str = "poisoned write") -> None:
    """Abort every insert into `table` whose new row meets `condition` (SQL over NEW)."""
    if is_postgres_url(database):
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(
                "CREATE FUNCTION poisoned() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$"
            )
            conn.execute(
                f"CREATE TRIGGER poison BEFORE INSERT ON {table} FOR EACH ROW "
                f"WHEN ({condition}) EXECUTE FUNCTION poisoned()"
            )
        return
    with sqlite3.connect(database) as conn:
        conn.execute(
            f"CREATE TRIGGER poison BEFORE INSERT ON {table} WHEN {condition} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


def cure(database: str, table: str) -> None:
    if is_postgres_url(database):
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(f"DROP TRIGGER poison ON {table}")
            conn.execute("DROP FUNCTION poisoned()")
        return
    with sqlite3.connect(database) as conn:
        conn.execute("DROP TRIGGER poison")
