"""Where a PostgreSQL store lives: `postgresql://USER:PASSWORD@HOST:PORT/DATABASE`, read and
checked without connecting, and named in messages without its password."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from cadenza.settings import without_password

SCHEMES = ("postgresql://", "postgres://")  # libpq accepts both
DEFAULT_PORT = 5432
EXPECTED = "a SQLite file path, or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


def is_postgres_url(location: str) -> bool:
    return location.startswith(SCHEMES)


@dataclass(frozen=True)
class PostgresLocation:
    url: str  # as given (handed to libpq, which also reads its query parameters)
    host: str
    port: int
    dbname: str
    user: str
    password: str

    @property
    def where(self) -> str:
        """host:port/database: how every message names the database."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}/{self.dbname}"

    def hide(self, text: str) -> str:
        """`text` (a driver's message, say) with this location's password taken out."""
        text = without_password(text)
        return text.replace(self.password, "***") if self.password else text


def parse_postgres_url(url: str) -> PostgresLocation:
    """The parts of a postgresql:// URL; ValueError (never quoting the password) if it lacks one."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError("the port is not a number 0-65535") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("not a postgresql:// URL")
    if not parts.hostname:
        raise ValueError("no host")
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or "/" in dbname:
        raise ValueError("no database name after host:port/")
    if not parts.username:
        raise ValueError("no user name before @host")
    return PostgresLocation(
        url=url,
        host=parts.hostname,
        port=port,
        dbname=dbname,
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
    )
