"""A throwaway PostgreSQL server for tests and benchmarks: `initdb` in a temporary directory,
listening on a free loopback port only, with an ordinary role (a password, no superuser) that
owns the databases handed out.

    server = PostgresServer.start()         # or the session fixture `postgres` in tests
    url = server.new_database()             # postgresql://cadenza:...@127.0.0.1:PORT/db_N
    server.stop()

PostgreSQL refuses to run as root; as root the server runs as the `postgres` system user the
Debian package creates. Binaries are found under /usr/lib/postgresql/*/bin (Debian) or on PATH.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.processes import free_port as free_port  # re-exported: benchmarks use it from here

ROLE = "cadenza"
TEMPLATE = "cadenza_template"  # migrated once; each test's database is a copy of it


def binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, newest version first; None if absent."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


class PostgresServer:
    def __init__(self, bin_dir: Path, root: Path, port: int, password: str) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.port = port
        self.password = password
        self._names = itertools.count(1)
        self._admin: dict[str, psycopg.Connection] = {}
        self._user = _unprivileged_user()

    # -- lifecycle ------------------------------------------------------------------------------
    @classmethod
    def start(cls, bin_dir: Path | None = None, durable: bool = False) -> PostgresServer:
        """`durable`: fsync as a real server does (benchmarks); tests' data need not survive."""
        bin_dir = bin_dir or binaries()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (no initdb): apt-get install postgresql")
        root = Path(tempfile.mkdtemp(prefix="cadenza-pg-"))
        server = cls(bin_dir, root, free_port(), secrets.token_urlsafe(12))
        try:
            server._init_and_start(durable)
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, *argv: str) -> subprocess.CompletedProcess:
        user = self._user
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.root,
            user=user,
            env=dict(os.environ, LC_ALL="C.UTF-8", PGHOST=str(self.root), PGPORT=str(self.port)),
        )
        if done.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def _init_and_start(self, durable: bool) -> None:
        if self._user is not None:
            shutil.chown(self.root, self._user)
        data = self.root / "data"
        # trust on the socket (for the fixture itself), passwords over TCP (for the orchestrator)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        # Listening on 127.0.0.1 only, socket in our own directory; throwaway data: no fsync.
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c max_connections=200"
        if not durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self.root / "log"),
            "-w",
            "-o",
            options,
            "start",
        )
        self.sql(
            f"CREATE ROLE {ROLE} LOGIN PASSWORD '{self.password}' NOSUPERUSER NOCREATEDB NOCREATEROLE",
            f"CREATE DATABASE {TEMPLATE} OWNER {ROLE}",
        )

    def stop(self) -> None:
        for conn in self._admin.values():
            conn.close()
        data = self.root / "data"
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run(str(self.bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases ------------------------------------------------------------------------------
    def sql(self, *statements: str, dbname: str = "postgres") -> list[tuple]:
        """Run statements as the superuser over the socket; the rows of the last one."""
        conn = self._admin.get(dbname)
        if conn is None or conn.closed:
            conn = psycopg.connect(
                host=str(self.root), port=self.port, user="postgres", dbname=dbname, autocommit=True
            )
            self._admin[dbname] = conn
        rows: list[tuple] = []
        for statement in statements:
            cur = conn.execute(statement)
            rows = cur.fetchall() if cur.description else []
        return rows

    def url(self, dbname: str, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{ROLE}:{secret}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self, template: str = TEMPLATE) -> str:
        """A database of its own owned by the role, copied from `template` ('template0' for an
        empty one); its URL."""
        name = f"db_{next(self._names)}"
        # FILE_COPY: without fsync, copying the files is ten times faster than logging them.
        self.sql(f"CREATE DATABASE {name} TEMPLATE {template} OWNER {ROLE} STRATEGY FILE_COPY")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[-1]
        admin = self._admin.pop(name, None)  # our own session in it would block the drop
        if admin is not None:
            admin.close()
        with contextlib.suppress(psycopg.Error):
            self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _unprivileged_user() -> str | None:
    """As root, the `postgres` system user (PostgreSQL will not run as root); else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            "running as root needs the postgres system user (apt-get install postgresql)"
        ) from None
    return "postgres"
