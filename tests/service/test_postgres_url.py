"""Reading a postgresql:// location without connecting, and naming it without its password."""

from __future__ import annotations

import pytest

from cadenza.settings import without_password
from orchestrator.config import database_location
from orchestrator.store.choice import describe
from orchestrator.store.postgres_url import parse_postgres_url


def test_the_parts_of_a_url():
    loc = parse_postgres_url("postgresql://us%40er:p%3Ass%2Fw@db.example:6543/my%20db?sslmode=require")
    assert (loc.user, loc.password, loc.host, loc.port, loc.dbname) == (
        "us@er",
        "p:ss/w",
        "db.example",
        6543,
        "my db",
    )
    assert loc.where == "db.example:6543/my db"
    assert parse_postgres_url("postgres://u@[::1]/d").where == "[::1]:5432/d"


@pytest.mark.parametrize(
    "url, problem",
    [
        ("postgresql://u:pw@h:notaport/d", "port"),
        ("postgresql://u:pw@h:5432/", "database"),
        ("postgresql://u:pw@/d", "host"),
        ("postgresql://h:5432/d", "user"),
    ],
)
def test_a_url_missing_a_part_is_refused_without_its_password(url, problem):
    with pytest.raises(ValueError, match=problem) as info:
        database_location(url)
    assert "pw" not in str(info.value)


def test_a_path_stays_a_path_and_other_urls_are_refused():
    assert database_location("~/x.db").endswith("/x.db") and not database_location("~/x.db").startswith("~")
    with pytest.raises(ValueError, match="not postgresql"):
        database_location("mysql://u:pw@h/d")


@pytest.mark.parametrize(
    "text, shown",
    [
        ("postgresql://u:secret@h:1/d", "postgresql://u:***@h:1/d"),
        ("postgresql://u:sec/ret@h/d", "postgresql://u:***@h/d"),  # an unescaped / in the password
        ("postgresql://u:s@c@h/d", "postgresql://u:***@h/d"),
        ("postgresql://u@h/d", "postgresql://u@h/d"),
        ("postgresql://h:5432/d", "postgresql://h:5432/d"),
        ("/var/lib/cadenza.db", "/var/lib/cadenza.db"),
    ],
)
def test_passwords_are_hidden(text, shown):
    assert without_password(text) == shown


def test_logs_name_the_database_without_its_password():
    assert describe("postgresql://cadenza:secret@db:5432/prod") == "postgresql://cadenza@db:5432/prod"
    assert describe("/tmp/o.db") == "/tmp/o.db"
