"""An engine whose orchestrator does not answer gives up within its retry window
(CADENZA_ORCHESTRATOR_RETRY_SECONDS) with one line naming the address, instead of hanging;
a run it was driving is left to its lease, and the orchestrator ends it Crashed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import grpc

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
        time.sleep(0.1)
        return i

    @flow
    def steady(n: int):
        print(get_run_context().flow_run.id, flush=True)
        return [step(i) for i in range(n)]

    steady(int(sys.argv[1]))
    """
)


def _script(tmp_path, address: str, steps: int) -> subprocess.Popen:
    path = tmp_path / "steady.py"
    path.write_text(SCRIPT)
    env = dict(
        os.environ,
        CADENZA_HOME=str(tmp_path / "home"),
        CADENZA_ORCHESTRATOR=address,
        CADENZA_ORCHESTRATOR_RETRY_SECONDS="1",
        CADENZA_LEASE_SECONDS="1",
        PYTHONPATH=str(REPO),
    )
    return subprocess.Popen(
        [sys.executable, str(path), str(steps)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_a_script_pointed_at_nothing_fails_within_the_window_naming_the_address(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    proc = _script(tmp_path, address, 3)
    try:
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert time.monotonic() - started < 10
    last = err.strip().splitlines()[-1]
    assert f"cannot reach the orchestrator at {address}" in last, err
    assert "CADENZA_ORCHESTRATOR" in last


def test_a_run_whose_orchestrator_dies_stops_and_is_crashed_by_its_lease(tmp_path, server_process):
    db = str(tmp_path / "o.db")
    first = server_process(db)
    proc = _script(tmp_path, first.address, 1000)
    try:
        run_id = proc.stdout.readline().strip()
        assert run_id, proc.stderr.read()
        time.sleep(0.3)
        first.kill()
        killed = time.monotonic()
        out, err = proc.communicate(timeout=20)
        stopped_after = time.monotonic() - killed
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert stopped_after < 8, stopped_after  # a few retry windows of 1 s, not forever
    assert f"cannot reach the orchestrator at {first.address}" in err, err

    second = server_process(db)  # the same database, after the engine gave up
    with grpc.insecure_channel(second.address) as channel:
        stub = pb_grpc.OrchestratorStub(channel)

        def state():
            return stub.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=run_id), timeout=5).flow_run.state

        deadline = time.monotonic() + 10
        while state().type == spb.STATE_TYPE_RUNNING and time.monotonic() < deadline:
            time.sleep(0.1)
        final = state()
    assert final.type == spb.STATE_TYPE_CRASHED, final
    assert "stopped sending heartbeats" in final.message
