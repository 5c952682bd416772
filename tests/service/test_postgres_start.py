"""`orchestrator serve` on PostgreSQL: it migrates an empty database itself, two started at once
migrate it once and both serve (replicas), a restart with only CADENZA_ORCHESTRATOR_DB
set serves the same data, a database it cannot use is refused in one line naming host:port/db,
and the password appears in no message and no log line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from orchestrator.store.postgres_schema import MIGRATIONS
from tests.pg import PostgresServer, free_port

from ._helpers import one_line_refusal
from .conftest import LISTENING

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def empty(postgres: PostgresServer):
    """A database with nothing in it, owned by the orchestrator's role; its URL."""
    url = postgres.new_database(template="template0")
    yield url
    postgres.drop_database(url)


@pytest.fixture
def fresh(postgres: PostgresServer):
    """A database already migrated (as the service tests' are); its URL."""
    url = postgres.new_database()
    yield url
    postgres.drop_database(url)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    return dict(env, PYTHONUNBUFFERED="1", **extra)


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "serve", "--port", "0", *args],
        cwd=REPO,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _versions(postgres: PostgresServer, url: str) -> list[int]:
    return [
        v
        for (v,) in postgres.sql(
            "SELECT version FROM cadenza_schema ORDER BY 1", dbname=url.rsplit("/", 1)[1]
        )
    ]


def test_an_empty_database_is_migrated_and_served_within_seconds(postgres, empty, server_process):
    started = time.monotonic()
    proc = server_process(empty)
    with grpc.insecure_channel(proc.address) as ch:
        answer = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    assert time.monotonic() - started < 10
    assert _versions(postgres, empty) == list(range(1, len(MIGRATIONS) + 1))
    name = empty.rsplit("/", 1)[1]
    tables = {
        t for (t,) in postgres.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", dbname=name)
    }
    assert {
        "flow_runs",
        "task_runs",
        "states",
        "concurrency_limits",
        "cache_entries",
        "logs",
        "deployments",
    } <= tables
    # It serves as the ordinary role that owns the database, not as a superuser.
    (owner,) = postgres.sql(f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{name}'")
    assert owner == ("cadenza",)
    assert postgres.sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'cadenza'") == [(False,)]


def test_two_started_at_once_migrate_once_and_both_serve(postgres, empty, tmp_path):
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "serve", "--port", "0", "--db", empty],
            cwd=REPO,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        addresses = [LISTENING.search(p.stdout.readline()) for p in procs]  # type: ignore[union-attr]
        assert all(addresses), "both serve: replicas share the database"
        for found in addresses:
            assert found is not None
            with grpc.insecure_channel(f"{found.group(1)}:{found.group(2)}") as channel:
                health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
                assert health.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        for p in procs:
            p.kill()
            p.communicate(timeout=10)
    assert _versions(postgres, empty) == list(range(1, len(MIGRATIONS) + 1))


def test_a_restart_with_only_the_variable_set_serves_the_same_data(postgres, empty, tmp_path):
    env = _env(CADENZA_ORCHESTRATOR_DB=empty)
    log = tmp_path / "orchestrator.log"

    def start() -> tuple[subprocess.Popen, grpc.Channel]:
        """The orchestrator process, and a channel to the address it announces."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "serve", "--port", "0", "--log-level", "DEBUG"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=open(log, "a"),  # noqa: SIM115  # closed with the process
            text=True,
        )
        address = LISTENING.search(proc.stdout.readline())  # type: ignore[union-attr]
        assert address
        return proc, grpc.insecure_channel(f"{address.group(1)}:{address.group(2)}")

    first, channel = start()
    try:
        with channel:
            stub = pb_grpc.OrchestratorStub(channel)
            run = stub.CreateFlowRun(
                pb.CreateFlowRunRequest(flow_name="kept", tags=["t"]), timeout=5
            ).flow_run
        first.terminate()
        assert first.wait(timeout=10) == 0
        second, channel = start()
        try:
            with channel:
                stub = pb_grpc.OrchestratorStub(channel)
                again = stub.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=run.id), timeout=5).flow_run
                listed = stub.ListFlowRuns(pb.ListFlowRunsRequest(tags=["t"]), timeout=5).flow_runs
        finally:
            second.terminate()
            second.wait(timeout=10)
    finally:
        first.kill()
        first.wait(timeout=10)
    assert again.state.id == run.state.id and [r.id for r in listed] == [run.id]
    text = log.read_text()
    assert "database: postgresql://cadenza@127.0.0.1" in text  # named, without its password
    assert postgres.password not in text


def test_an_unreachable_database_is_refused_in_one_line(postgres):
    port = free_port()  # nobody listens there
    url = f"postgresql://cadenza:{postgres.password}@127.0.0.1:{port}/nowhere"
    started = time.monotonic()
    line = one_line_refusal(
        _serve("--db", url), f"127.0.0.1:{port}/nowhere", "refused", secret=postgres.password
    )
    assert "start PostgreSQL" in line
    assert time.monotonic() - started < 20


def test_a_wrong_password_or_database_is_refused_in_one_line(postgres, fresh):
    wrong = fresh.replace(postgres.password, "not-the-password")
    line = one_line_refusal(_serve("--db", wrong), wrong.split("@")[1], "password", secret="not-the-password")
    assert "role 'cadenza'" in line
    unknown = fresh.rsplit("/", 1)[0] + "/no_such_db"
    one_line_refusal(_serve("--db", unknown), "/no_such_db", "no such database", secret=postgres.password)


@pytest.mark.parametrize(
    "bad",
    ["postgresql://cadenza:SECRETPW@127.0.0.1:notaport/db", "postgresql://cadenza:SECRETPW@127.0.0.1:5432/"],
)
def test_a_malformed_url_is_refused_naming_the_variable_not_the_password(bad):
    done = _serve(env=_env(CADENZA_ORCHESTRATOR_DB=bad))
    line = one_line_refusal(done, "CADENZA_ORCHESTRATOR_DB=", "postgresql://cadenza:***@", secret="SECRETPW")
    assert done.returncode == 2, line
    done = _serve("--db", bad)
    one_line_refusal(done, "--db", "postgresql://cadenza:***@", secret="SECRETPW")
    assert done.returncode == 2
