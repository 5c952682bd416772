"""Crashes: a flow run's child process killed with SIGKILL, and the whole executor killed."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb

from ._harness import (
    COMPLETED,
    CRASHED,
    FINAL,
    RUNNING,
    Cluster,
    module_entrypoint,
    pid_alive,
    read,
    submit,
    task_runs,
    wait_file,
    wait_final,
    wait_for,
)
from .flows import SLOT_TAG


def test_sigkill_of_the_child_process_crashes_the_run(cluster, orch, ex, tmp_path):
    pid_file = tmp_path / "pid"
    run_id = submit(ex, entrypoint=module_entrypoint("pid_then_sleep"), params={"pid_file": str(pid_file)})
    pid = int(wait_file(pid_file, 8, cluster))
    assert read(orch, run_id).state.type == RUNNING
    os.kill(pid, signal.SIGKILL)

    run = wait_final(cluster, orch, run_id, timeout=5)
    assert run.state.type == CRASHED, cluster.logs()
    assert "killed by SIGKILL" in run.state.message, run.state.message
    wait_for(
        lambda: all(t.state.type in FINAL for t in task_runs(orch, run_id)),
        3,
        "the killed run's task runs to be final",
        cluster,
    )
    # The executor is fine and runs the next flow.
    again = submit(ex, entrypoint=module_entrypoint("quick"))
    assert wait_final(cluster, orch, again).state.name == "Completed"


def test_sigkill_of_the_executor_crashes_the_run_once_its_lease_lapses(tmp_path):
    own = Cluster.start(tmp_path / "cluster")
    try:
        orch, ex = own.orch(), own.ex()
        pid_file = tmp_path / "pid"
        run_id = submit(
            ex, entrypoint=module_entrypoint("pid_then_sleep"), params={"pid_file": str(pid_file)}
        )
        child = int(wait_file(pid_file, 8, own))
        tasks = task_runs(orch, run_id)
        assert [t.state.type for t in tasks] == [RUNNING]

        own.executors[0].process.send_signal(signal.SIGKILL)
        own.executors[0].process.wait(timeout=5)
        # The orphaned child sees its lease lapse unrenewed and stops itself; only then (a
        # grace after the lapse) is the run taken away, so nothing of it acts any more. On a
        # loaded machine the grace may be over by the time the orphan is seen gone: what must
        # hold is that the run was not taken away while the orphan was still seen alive.
        seen_alive = [datetime.now(UTC)]

        def orphan_gone() -> bool:
            if pid_alive(child):
                seen_alive[0] = datetime.now(UTC)
                return False
            return True

        wait_for(orphan_gone, 5, "the orphan to stop by itself", own, interval=0.01)
        run = wait_final(own, orch, run_id, timeout=8)  # lease 2 s, grace 2 s, checked every 0.5 s
        assert run.state.type == CRASHED, own.logs()
        assert run.state.timestamp.ToDatetime(UTC) > seen_alive[0], "taken away while the orphan ran"
        assert "stopped sending heartbeats" in run.state.message, run.state.message
        for task in task_runs(orch, run_id):
            assert task.state.type == CRASHED, (task.name, task.state)
    finally:
        own.stop()  # also kills the orphaned child (same process group)


def test_a_crashed_run_releases_its_task_concurrency_slots(cluster, orch, ex, tmp_path):
    limit = pb.CreateConcurrencyLimitRequest(tag=SLOT_TAG, concurrency_limit=1)
    orch.CreateConcurrencyLimit(limit)
    try:
        pid_file = tmp_path / "pid"
        run_id = submit(ex, entrypoint=module_entrypoint("slot_holder"), params={"pid_file": str(pid_file)})
        pid = int(wait_file(pid_file, 8, cluster))
        (task,) = task_runs(orch, run_id)

        def slots() -> list[str]:
            limit = orch.ReadConcurrencyLimit(pb.ReadConcurrencyLimitRequest(tag=SLOT_TAG)).concurrency_limit
            return list(limit.active_slots)

        assert slots() == [task.id]

        os.kill(pid, signal.SIGKILL)
        assert wait_final(cluster, orch, run_id, timeout=5).state.type == CRASHED, cluster.logs()
        wait_for(lambda: slots() == [], 3, "the crashed task run's slot to be released", cluster)

        # The slot is free for the next run's task.
        again = submit(
            ex,
            entrypoint=module_entrypoint("slot_holder"),
            params={"pid_file": str(tmp_path / "pid2"), "seconds": 0},
        )
        assert wait_final(cluster, orch, again).state.type == COMPLETED, cluster.logs()
    finally:
        orch.DeleteConcurrencyLimit(pb.DeleteConcurrencyLimitRequest(tag=SLOT_TAG))


def test_a_run_taken_away_from_its_executor_has_its_process_stopped(cluster, orch, ex, tmp_path):
    """When the orchestrator gives up on a run that a child is still working on (here it is
    forced Crashed from outside, as a lapsed lease would), the executor learns it from its
    heartbeat and stops the child instead of letting a zombie run on."""
    pid_file = tmp_path / "pid"
    run_id = submit(ex, entrypoint=module_entrypoint("pid_then_sleep"), params={"pid_file": str(pid_file)})
    pid = int(wait_file(pid_file, 8, cluster))
    orch.SetFlowRunState(
        pb.SetFlowRunStateRequest(
            flow_run_id=run_id, force=True, state=spb.State(type=spb.STATE_TYPE_CRASHED, message="taken away")
        )
    )
    wait_for(lambda: not pid_alive(pid), 8, "the child of the taken-away run to be stopped", cluster)
    assert read(orch, run_id).state.message == "taken away"
