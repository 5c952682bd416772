"""What the replica tests share: calls sent through every replica at the same moment, flow
scripts run in their own processes against chosen replicas, and checks on what they left."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from cadenza.v1 import orchestrator_pb2 as pb
from tests.service._helpers import (
    COMPLETED,
    RUNNING,
    TASK,
    TIMEOUT,
    all_task_runs,
    history,
    read_flow,
    tname,
    uid,
)

from .conftest import REPO, Replica

T = TypeVar("T")


def at_once(replicas: list[Replica], call: Callable[..., T], *args, **kwargs) -> list[T]:
    """`call(replica.stub, *args, **kwargs)` for each replica on its own thread, all released
    together; the answers, in the replicas' order."""
    start = threading.Barrier(len(replicas))

    def one(replica: Replica) -> T:
        start.wait(timeout=10)
        return call(replica.stub, *args, **kwargs)

    with ThreadPoolExecutor(len(replicas)) as pool:
        return list(pool.map(one, replicas))


def deployment(stub, **kw) -> pb.Deployment:
    """A deployment of a name of its own (its runs can be claimed: they have an entrypoint)."""
    req = pb.CreateDeploymentRequest(name=f"dep-{uid()}", flow_name="f", entrypoint="m:f", **kw)
    return stub.CreateDeployment(req, timeout=TIMEOUT).deployment


def scheduled_run(stub, dep: pb.Deployment) -> pb.FlowRun:
    """A run of `dep`, Scheduled for now."""
    req = pb.CreateFlowRunFromDeploymentRequest(deployment_id=dep.id)
    return stub.CreateFlowRunFromDeployment(req, timeout=TIMEOUT).flow_run


# argv: steps, seconds per task, tag ("" for none), "map" to run the steps at once or "chain".
SCRIPT = textwrap.dedent(
    """
    import sys, time
    from executor import flow, task
    from executor.context import get_run_context

    steps, pause, tag, how = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]

    @task(tags=[tag] if tag else [])
    def step(i):
        time.sleep(pause)
        return i

    @flow
    def work(n: int):
        print(get_run_context().flow_run.id, flush=True)
        if how == "map":
            return sum(f.result() for f in step.map(range(n)))
        return sum(step(i) for i in range(n))

    print("result", work(steps), flush=True)
    """
)


def start_flow(
    workdir: Path, addresses: list[str], steps: int, pause: float, tag: str = "", how: str = "chain"
) -> subprocess.Popen:
    """A flow script whose client uses `addresses` in order (CADENZA_ORCHESTRATOR=a,b)."""
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "work.py"
    script.write_text(SCRIPT)
    env = dict(
        os.environ,
        CADENZA_HOME=str(workdir / "home"),
        CADENZA_ORCHESTRATOR=",".join(addresses),
        CADENZA_ORCHESTRATOR_RETRY_SECONDS="30",
        PYTHONPATH=str(REPO),
    )
    return subprocess.Popen(
        [sys.executable, str(script), str(steps), str(pause), tag, how],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(proc: subprocess.Popen, steps: int, timeout: float = 40) -> str:
    """The script ended well with the sum of its steps; the rest of its stdout (which starts
    with its flow run's id unless the caller read that line already)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"result {sum(range(steps))}" in out, (out, err)
    return out


def assert_each_task_ran_once(stub, flow_run_id: str, steps: int) -> None:
    """The flow completed; each step has one task run, with one Running and one Completed."""
    assert read_flow(stub, flow_run_id).state.type == COMPLETED
    tasks = all_task_runs(stub, flow_run_id=flow_run_id, page_size=1000)
    assert len(tasks) == steps, "a task run was created twice, or lost"
    assert len({t.dynamic_key for t in tasks}) == steps
    for task in tasks:
        kinds = [s.type for s in history(stub, TASK, task.id)]
        assert kinds.count(RUNNING) == 1 and kinds.count(COMPLETED) == 1, (
            task.name,
            [tname(k) for k in kinds],
        )


def active_slots(stub, tag: str) -> int:
    req = pb.ReadConcurrencyLimitRequest(tag=tag)
    return len(stub.ReadConcurrencyLimit(req, timeout=TIMEOUT).concurrency_limit.active_slots)
