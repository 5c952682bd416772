"""Fixtures for the cross-replica tests: several `python -m orchestrator serve` processes on ONE
fresh database of the session's throwaway PostgreSQL server, all serving at once (issue 10).

* `replicas(n, **env)`: starts n replicas side by side (in parallel), each on a free loopback
  port, and returns them once each answers its gRPC health check; every replica of the test is
  killed at teardown. Calling it again adds replicas on the same database.
* `pair`: two replicas shared by the tests of this package that only touch runs they create
  (flow names of their own; only the claim tests make runs a worker can claim).

Each replica logs into its own file; the logs are printed at teardown, so a failing test shows
them. Skipped, as tests/service is, where PostgreSQL is not installed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from tests.pg import PostgresServer
from tests.pg_fixtures import postgres  # noqa: F401  (the session fixture, shared)
from tests.processes import free_port

REPO = Path(__file__).resolve().parents[2]
SERVICE = pb.DESCRIPTOR.services_by_name["Orchestrator"].full_name
START_TIMEOUT = 30.0  # several interpreters importing at once on a small CI machine


class Replica:
    """One orchestrator process, with a channel and a stub to it."""

    def __init__(self, name: str, db: str, workdir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "ab")
        argv = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--db", db]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", *argv],
            cwd=str(REPO),
            env=dict(os.environ, PYTHONUNBUFFERED="1", CADENZA_HOME=str(workdir / "home"), **env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.channel = grpc.insecure_channel(self.address)
        self.stub = pb_grpc.OrchestratorStub(self.channel)

    def __repr__(self) -> str:
        return f"<replica {self.name} at {self.address}>"

    def wait_serving(self, deadline: float) -> None:
        """Until the health check says SERVING; fails with the log if the process exits."""
        health = health_pb2_grpc.HealthStub(self.channel)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.log()}")
            try:
                answer = health.Check(
                    health_pb2.HealthCheckRequest(service=SERVICE), timeout=0.5, wait_for_ready=True
                )
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} is not serving after {START_TIMEOUT} s:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        self.channel.close()
        self._log.close()


class ReplicaSet:
    """The replicas of one database; `start` adds some, `close` kills them all."""

    def __init__(self, pg: PostgresServer, workdir: Path) -> None:
        self.pg = pg
        self.workdir = workdir
        self.db = pg.new_database()
        self.started: list[Replica] = []

    def start(self, n: int = 2, **env: str) -> list[Replica]:
        first = len(self.started)
        new = [Replica(chr(ord("a") + first + i), self.db, self.workdir, env) for i in range(n)]
        self.started += new
        deadline = time.monotonic() + START_TIMEOUT
        for replica in new:
            replica.wait_serving(deadline)
        return new

    def close(self) -> None:
        for replica in self.started:
            replica.close()
        for replica in self.started:
            print(f"----- {replica!r} log -----\n{replica.log()}")
        self.pg.drop_database(self.db)


@pytest.fixture
def replicas(postgres, tmp_path):  # noqa: F811
    """Factory: `replicas(n, **env)` starts n replicas on this test's database."""
    group = ReplicaSet(postgres, tmp_path)
    yield group.start
    group.close()


@pytest.fixture(scope="package")
def pair(postgres, tmp_path_factory):  # noqa: F811
    """Two replicas on one database, shared by the package's tests that only touch their own runs."""
    group = ReplicaSet(postgres, tmp_path_factory.mktemp("pair"))
    try:
        yield group.start(2)
    finally:
        group.close()
