"""Clients take a list of orchestrators (CADENZA_ORCHESTRATOR=host1:port1,host2:port2): when the
one in use goes away, calls move to the next that answers. Here the second address serves the
same database after the first process was killed (started then, or waiting as a standby that
takes over by itself), so the flow must carry on through it with its in-flight proposals
re-sent unchanged: it completes, nothing doubled, nothing lost. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import grpc
import pytest

from cadenza.settings import SettingsError, address
from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from cadenza.v1 import states_pb2 as spb
from tests.processes import free_port

from .conftest import REPO

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from executor import flow, task
    from executor.context import get_run_context

    @task
    def step(i):
        time.sleep(0.02)
        return i

    @flow
    def chain(n: int):
        print(get_run_context().flow_run.id, flush=True)
        total = 0
        for i in range(n):
            total += step(i)
        return total

    print("result", chain(int(sys.argv[1])), flush=True)
    """
)
STEPS = 150


def _serve(db: str, port: int, log, *, standby: bool = False) -> subprocess.Popen:
    argv = [
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--db",
        db,
        *(["--standby"] if standby else []),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *argv], cwd=str(REPO), stdout=log, stderr=subprocess.STDOUT
    )
    if not standby:
        _until_serving(port, 20)
    return proc


def _until_serving(port: int, timeout: float) -> float:
    """Seconds until the port answers gRPC."""
    started = time.monotonic()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    return time.monotonic() - started


def test_an_address_list_is_validated_as_one_setting():
    assert address("127.0.0.1:1, localhost:2") == "127.0.0.1:1,localhost:2"
    for bad in ("127.0.0.1:1,http://x:2", "127.0.0.1:1,nohost", "a:1,,b:2"):
        with pytest.raises((ValueError, SettingsError)):
            address(bad)


@pytest.mark.parametrize("standby", [False, True], ids=["started-after", "standby"])
def test_a_flow_carries_on_through_the_next_address_when_the_first_dies(tmp_path, database, standby):
    db = database
    first_port, second_port = free_port(), free_port()
    log = open(tmp_path / "orchestrators.log", "ab")
    first = _serve(db, first_port, log)
    second = _serve(db, second_port, log, standby=True) if standby else None
    script = tmp_path / "chain.py"
    script.write_text(SCRIPT)
    env = dict(
        os.environ,
        CADENZA_HOME=str(tmp_path / "home"),
        CADENZA_ORCHESTRATOR=f"127.0.0.1:{first_port},127.0.0.1:{second_port}",
        CADENZA_ORCHESTRATOR_RETRY_SECONDS="30",
        PYTHONPATH=str(REPO),
    )
    proc = subprocess.Popen(
        [sys.executable, str(script), str(STEPS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        run_id = proc.stdout.readline().strip()
        assert run_id, proc.stderr.read()
        time.sleep(0.8)  # some task runs done, one in flight
        first.kill()
        first.wait(timeout=10)
        if second is None:
            second = _serve(db, second_port, log)  # the same database, at the list's next address
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert f"result {sum(range(STEPS))}" in out
        _assert_completed_once(second_port, run_id)
    finally:
        proc.kill()
        for server in (first, second):
            if server is not None and server.poll() is None:
                server.kill()
        log.close()


def _assert_completed_once(port: int, run_id: str) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.OrchestratorStub(channel)
        run = stub.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=run_id), timeout=5).flow_run
        assert run.state.type == spb.STATE_TYPE_COMPLETED
        tasks = stub.ListTaskRuns(
            pb.ListTaskRunsRequest(flow_run_id=run_id, page_size=1000), timeout=5
        ).task_runs
        assert len(tasks) == STEPS  # none created twice
        assert len({t.dynamic_key for t in tasks}) == STEPS
        for task in tasks:
            history = stub.ReadStates(
                pb.ReadStatesRequest(run_kind=pb.RUN_KIND_TASK, run_id=task.id), timeout=5
            ).states
            kinds = [s.type for s in history]
            assert kinds.count(spb.STATE_TYPE_COMPLETED) == 1, (task.name, kinds)
            assert kinds.count(spb.STATE_TYPE_RUNNING) == 1, (task.name, kinds)


def test_a_standby_serves_nothing_until_the_active_one_stops_then_takes_over(tmp_path, database):
    first_port, second_port = free_port(), free_port()
    log_path = tmp_path / "orchestrators.log"
    with open(log_path, "ab") as log:
        first = _serve(database, first_port, log)
        second = _serve(database, second_port, log, standby=True)
        try:
            time.sleep(1.5)
            assert second.poll() is None  # waiting, not refused
            with pytest.raises(grpc.FutureTimeoutError):
                _until_serving(second_port, 0.5)  # and not listening
            assert "standing by" in log_path.read_text()
            first.kill()
            first.wait(timeout=10)
            took = _until_serving(second_port, 15)
            assert took < 5, took
            assert "taking over" in log_path.read_text()
        finally:
            for server in (first, second):
                if server.poll() is None:
                    server.kill()
