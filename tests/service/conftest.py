"""Fixtures for service-level tests: real orchestrators on loopback ports chosen at run time.

* `database`: where the test's orchestrator keeps its data. Every test that uses it (directly
  or through `server`, `stub` ...) runs twice: on a fresh SQLite file, and on a fresh database of
  a throwaway PostgreSQL server shared by the session (`postgres`; skipped where PostgreSQL is
  not installed; CI installs it).
* `server` / `stub`: an in-process orchestrator (`BackgroundServer`) on `database`, with a gRPC
  channel and an `OrchestratorStub` talking to it over TCP.
* `server_process`: a factory for `python -m orchestrator serve` subprocesses, for the tests
  that kill or signal the service.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from orchestrator import BackgroundServer
from tests.pg import PostgresServer
from tests.pg_fixtures import postgres  # noqa: F401  (the session fixture, shared)

REPO = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"Cadenza orchestrator listening on ([0-9.]+):(\d+)")


STORES = ("sqlite", "postgres")


def pytest_generate_tests(metafunc):
    if "store_kind" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        if "store_kind" in marker.args[0]:
            return  # the test names its stores itself
    metafunc.parametrize("store_kind", STORES, indirect=True)


@pytest.fixture
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def database(store_kind, tmp_path, request) -> str:
    """A SQLite path or a postgresql:// URL, fresh for this test."""
    if store_kind == "sqlite":
        yield str(tmp_path / "o.db")
        return
    pg: PostgresServer = request.getfixturevalue("postgres")
    url = pg.new_database()
    yield url
    pg.drop_database(url)


@pytest.fixture
def server(database):
    srv = BackgroundServer.start(db_path=database, port=0)
    yield srv
    srv.stop()


@pytest.fixture
def channel(server):
    ch = grpc.insecure_channel(server.address)
    grpc.channel_ready_future(ch).result(timeout=5)
    yield ch
    ch.close()


@pytest.fixture
def stub(channel) -> pb_grpc.OrchestratorStub:
    return pb_grpc.OrchestratorStub(channel)


class ServerProcess:
    """`python -m orchestrator serve` on port 0; the address is read from its stdout."""

    def __init__(self, db: str, log_path: Path) -> None:
        self.db = db
        self._log = open(log_path, "ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "serve", "--host", "127.0.0.1", "--port", "0", "--db", db],
            cwd=str(REPO),
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, args=(lines,), daemon=True).start()
        self.address = self._await_address(lines, timeout=20.0)

    def _pump(self, lines: queue.Queue) -> None:
        for line in iter(self.proc.stdout.readline, ""):
            lines.put(line)
        lines.put(None)

    def _await_address(self, lines: queue.Queue, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.proc.kill()
                raise RuntimeError(f"orchestrator did not announce its address; stdout: {seen!r}")
            seen.append(line)
            match = LISTENING.search(line)
            if match:
                return f"{match.group(1)}:{match.group(2)}"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()


@pytest.fixture
def server_process(tmp_path):
    """Factory: `server_process(db)` starts a subprocess orchestrator; all are reaped after."""
    started: list[ServerProcess] = []

    def start(db: str | None = None) -> ServerProcess:
        proc = ServerProcess(db or str(tmp_path / "o.db"), tmp_path / "orchestrator.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.close()


@pytest.fixture
def world(stub):
    from ._helpers import new_world

    return new_world(stub)
