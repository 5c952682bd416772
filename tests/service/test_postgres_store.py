"""The PostgreSQL store under what SQLite never meets: several processes migrating one database
at once, a schema newer than the code, a group commit with a refused batch, connections the
server drops under a running orchestrator, and a read that would wait on a lock."""

from __future__ import annotations

import asyncio
import threading
import time

import grpc
import psycopg
import pytest

from cadenza.v1 import orchestrator_pb2 as pb
from orchestrator.core.models import FlowRun, State, StateType
from orchestrator.store.base import WriteBatch
from orchestrator.store.errors import StoreError
from orchestrator.store.postgres import PostgresStore
from orchestrator.store.postgres_connect import READ_LOCK_TIMEOUT_MS, connect
from orchestrator.store.postgres_schema import MIGRATIONS, migrate
from orchestrator.store.postgres_url import parse_postgres_url

from ._helpers import FLOW, RUNNING, accepted, history, new_flow, running_flow, state, types


@pytest.fixture
def empty(postgres):
    url = postgres.new_database(template="template0")
    yield url
    postgres.drop_database(url)


def _dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_migrations_run_once_when_many_start_at_once(postgres, empty):
    location = parse_postgres_url(empty)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def start() -> None:
        with connect(location, "test", 15000, 0) as conn:
            barrier.wait()
            try:
                assert migrate(conn, location.where) == len(MIGRATIONS)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    rows = postgres.sql("SELECT version FROM cadenza_schema ORDER BY 1", dbname=_dbname(empty))
    assert [v for (v,) in rows] == list(range(1, len(MIGRATIONS) + 1))


def test_a_schema_newer_than_the_code_is_refused(postgres, empty):
    store = PostgresStore(empty)
    store.open()
    asyncio.run(store.close())
    postgres.sql("INSERT INTO cadenza_schema (version) VALUES (999)", dbname=_dbname(empty))
    with pytest.raises(StoreError, match="newer than this Cadenza") as info:
        PostgresStore(empty).open()
    assert postgres.password not in str(info.value)


def _run(name: str, key: str = "") -> FlowRun:
    run = FlowRun(flow_name=name, idempotency_key=key)
    run.state = State(StateType.PENDING)
    return run


def test_a_refused_batch_fails_alone_and_the_rest_of_its_group_commits(postgres):
    url = postgres.new_database()
    store = PostgresStore(url)
    store.open()

    async def scenario() -> list:
        first = WriteBatch()
        first.put_flow_run(_run("taken", key="k"))
        await store.commit(first)
        batches = []
        for name, key in (("a", ""), ("clash", "k"), ("b", "")):  # "clash" reuses key k
            batch = WriteBatch()
            batch.put_flow_run(_run(name, key))
            batches.append(batch)
        # All three are queued in one turn of the loop, so they go in one group.
        outcome = await asyncio.gather(*(store.commit(b) for b in batches), return_exceptions=True)
        await store.close()
        return outcome

    try:
        a, clash, b = asyncio.run(scenario())
        assert a is None and b is None
        assert isinstance(clash, StoreError) and "flow_runs_idempotency" in str(clash)
        names = postgres.sql("SELECT flow_name FROM flow_runs ORDER BY seq", dbname=_dbname(url))
        assert [n for (n,) in names] == ["taken", "a", "b"]
    finally:
        postgres.drop_database(url)


def _terminate(postgres, database: str, purpose: str) -> None:
    postgres.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{_dbname(database)}' AND application_name = 'cadenza-orchestrator {purpose}'"
    )


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_connections_dropped_by_the_server_are_made_again(postgres, stub, database, store_kind):
    flow = running_flow(stub)
    _terminate(postgres, database, "reads")
    assert [r.id for r in stub.ListFlowRuns(pb.ListFlowRunsRequest()).flow_runs] == [flow.id]  # read again

    _terminate(postgres, database, "writes")
    time.sleep(0.1)
    with pytest.raises(grpc.RpcError) as info:  # the commit that meets the drop fails as "retry"
        new_flow(stub, flow_name="during")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE and "retry" in info.value.details()
    assert [r.flow_name for r in stub.ListFlowRuns(pb.ListFlowRunsRequest()).flow_runs] == ["flow"]
    after = new_flow(stub, flow_name="after")  # a new connection
    accepted(stub, FLOW, after.id, state(RUNNING))
    assert types(history(stub, FLOW, after.id)) == ["STATE_TYPE_PENDING", "STATE_TYPE_RUNNING"]
    # The serving lock was not touched: it is still held by this orchestrator (key 2; key 3 is
    # the background work's, also held, since it is the only replica).
    holders = postgres.sql(
        "SELECT objid, mode FROM pg_locks WHERE locktype = 'advisory' AND granted "
        f"AND database = (SELECT oid FROM pg_database WHERE datname = '{_dbname(database)}') ORDER BY objid"
    )
    assert holders == [(2, "ShareLock"), (3, "ExclusiveLock")]


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
def test_a_read_that_would_wait_on_a_lock_gives_up_quickly(stub, database, store_kind):
    flow = running_flow(stub)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(database) as conn:
            conn.execute("LOCK TABLE flow_runs IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(5)
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as info:
            stub.ListFlowRuns(pb.ListFlowRunsRequest(), timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE and "retry" in info.value.details()
        assert time.monotonic() - started < READ_LOCK_TIMEOUT_MS / 1000 + 1.0
    finally:
        release.set()
        holder.join(10)
    assert [r.id for r in stub.ListFlowRuns(pb.ListFlowRunsRequest()).flow_runs] == [flow.id]
