"""CancelFlowRun: the engine notices the cancel within a second (its lease watch), the run ends
Cancelled with its task runs and subflows, and a child process that lingers (a task blocked in
its thread) is killed after the grace period."""

from __future__ import annotations

import time
from datetime import timedelta

from cadenza.v1 import executor_pb2 as epb
from cadenza.v1 import orchestrator_pb2 as pb

from ._harness import (
    CANCELLED,
    CANCELLING,
    FINAL,
    RUNNING,
    SCHEDULED,
    deploy,
    module_entrypoint,
    pid_alive,
    read,
    submit,
    task_runs,
    utcnow,
    wait_file,
    wait_final,
    wait_for,
)


def cancel(ex, run_id):
    return ex.CancelFlowRun(epb.CancelFlowRunRequest(flow_run_id=run_id)).state


def running_tasks(orch, run_id):
    return [t for t in task_runs(orch, run_id) if t.state.type == RUNNING]


def assert_no_live_task_runs(orch, run_id, explain=""):
    live = [(t.name, t.state.name) for t in task_runs(orch, run_id) if t.state.type not in FINAL]
    assert not live, f"{live}\n{explain}"


def test_cancel_a_running_flow_stops_it_at_a_task_boundary(cluster, orch, ex):
    run_id = submit(ex, entrypoint=module_entrypoint("sleepy_loop"), params={"steps": 60, "seconds": 0.3})
    wait_for(lambda: len(task_runs(orch, run_id)) >= 2, 8, "two task runs", cluster)
    assert cancel(ex, run_id).type == CANCELLING

    started = time.monotonic()
    run = wait_final(cluster, orch, run_id, timeout=6)
    assert run.state.type == CANCELLED, cluster.logs()
    assert "SIGKILL" not in run.state.message, run.state.message  # it stopped by itself, in the grace period
    assert time.monotonic() - started < 3
    tasks = task_runs(orch, run_id)
    assert 2 <= len(tasks) < 30  # it did not run on to the end
    assert_no_live_task_runs(orch, run_id, cluster.logs())
    # And no task run starts afterwards.
    time.sleep(0.5)
    assert len(task_runs(orch, run_id)) == len(tasks)


def test_cancel_ends_the_subflow_too(cluster, orch, ex):
    run_id = submit(
        ex, entrypoint=module_entrypoint("parent_of_sleepy"), params={"steps": 60, "seconds": 0.3}
    )
    tracker = wait_for(
        lambda: next((t for t in task_runs(orch, run_id) if t.state.details.child_flow_run_id), None),
        8,
        "the subflow to start",
        cluster,
    )
    child_id = tracker.state.details.child_flow_run_id
    wait_for(lambda: task_runs(orch, child_id), 5, "a task run in the subflow", cluster)
    cancel(ex, run_id)

    assert wait_final(cluster, orch, run_id, timeout=6).state.type == CANCELLED, cluster.logs()
    assert wait_final(cluster, orch, child_id, timeout=3).state.type == CANCELLED, cluster.logs()
    for flow_run_id in (run_id, child_id):
        wait_for(
            lambda run=flow_run_id: all(t.state.type in FINAL for t in task_runs(orch, run)),
            3,
            f"the task runs of {flow_run_id} to be final",
            cluster,
        )


def test_a_child_blocked_in_a_task_is_cancelled_at_once_and_killed_after_the_grace_period(
    cluster, orch, ex, tmp_path
):
    pid_file = tmp_path / "pid"
    run_id = submit(
        ex, entrypoint=module_entrypoint("pid_then_sleep"), params={"pid_file": str(pid_file), "seconds": 60}
    )
    pid = int(wait_file(pid_file, 8, cluster))
    cancel(ex, run_id)
    assert read(orch, run_id).state.type == CANCELLING

    started = time.monotonic()
    # The child's engine sees Cancelling at its next look at its claim (at most a second),
    # not at a task boundary: its only task blocks for a minute.
    run = wait_final(cluster, orch, run_id, timeout=6)
    assert run.state.type == CANCELLED, cluster.logs()
    assert time.monotonic() - started < 2.5
    assert "SIGKILL" not in run.state.message, run.state.message
    # The blocked task thread keeps the process alive: the worker kills it after the grace (1 s).
    wait_for(lambda: not pid_alive(pid), 4, f"process {pid} to be gone", cluster)
    wait_for(
        lambda: all(t.state.type in FINAL for t in task_runs(orch, run_id)),
        3,
        "the blocked task run to be final",
        cluster,
    )
    assert_no_live_task_runs(orch, run_id, cluster.logs())


def test_cancel_a_run_that_has_not_started(cluster, orch, ex):
    dep = deploy(orch, "quick")
    request = pb.CreateFlowRunFromDeploymentRequest(name=dep.name)
    request.scheduled_time.FromDatetime(utcnow() + timedelta(hours=1))
    run = orch.CreateFlowRunFromDeployment(request).flow_run
    assert run.state.type == SCHEDULED
    cancel(ex, run.id)
    # No process holds it, so nothing else would ever finish the cancellation.
    assert wait_final(cluster, orch, run.id, timeout=3).state.type == CANCELLED, cluster.logs()
