"""The `postgres` session fixture, shared by the conftests that need a real PostgreSQL server
(tests/service, tests/replicas): a conftest imports it, and its tests skip where PostgreSQL is
not installed (CI installs it)."""

from __future__ import annotations

import pytest

from tests.pg import TEMPLATE, PostgresServer, binaries


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server for the whole session (started on first use)."""
    if binaries() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer.start()
    try:
        migrate_template(server)
        yield server
    finally:
        server.stop()


def migrate_template(server: PostgresServer) -> None:
    """Migrate the template once, as the orchestrator would, so each test's copy starts current."""
    from orchestrator.store.postgres_connect import connect
    from orchestrator.store.postgres_schema import migrate
    from orchestrator.store.postgres_url import parse_postgres_url

    location = parse_postgres_url(server.url(TEMPLATE))
    with connect(location) as conn:
        migrate(conn, location.where)
