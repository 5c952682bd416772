"""Pause and resume through the Executor: in process (the child waits) and out of process
(`reschedule=True`: the child exits, a resume reschedules the run, a worker runs it again)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cadenza.v1 import executor_pb2 as epb
from cadenza.v1 import orchestrator_pb2 as pb

from ._harness import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PAUSED,
    RUNNING,
    SCHEDULED,
    deploy,
    module_entrypoint,
    pid_alive,
    read,
    rpc_error,
    submit,
    task_runs,
    wait_file,
    wait_final,
    wait_for,
    wait_state,
)


def _engine_processes(run_id: str) -> list[str]:
    """Live `python -m executor.engine <run_id>` processes."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"executor.engine" in cmdline and run_id.encode() in cmdline:
            found.append(entry.name)
    return found


def resume(ex, run_id, run_input=None):
    request = pb.ResumeFlowRunRequest(
        flow_run_id=run_id, run_input_json=json.dumps(run_input) if run_input is not None else ""
    )
    return ex.ResumeFlowRun(request).result


def test_in_process_pause_resumed_with_input(cluster, orch, ex):
    run_id = submit(ex, entrypoint=module_entrypoint("pause_here"), params={"timeout": 20})
    paused = wait_state(cluster, orch, run_id, PAUSED)
    assert not paused.state.details.pause_reschedule

    result = resume(ex, run_id, {"answer": 42})
    assert result.status == pb.PROPOSAL_STATUS_ACCEPT, result
    assert result.state.type == RUNNING
    assert json.loads(read(orch, run_id).run_input_json) == {"answer": 42}

    run = wait_final(cluster, orch, run_id)
    assert run.state.type == COMPLETED, cluster.logs()
    details = ex.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=run_id))
    assert json.loads(details.result_json) == {"answer": 42}  # pause_flow_run returned the input
    assert sorted(t.name for t in task_runs(orch, run_id)) == ["double-0", "double-1"]


def test_out_of_process_pause_exits_the_child_and_a_worker_picks_the_run_up_again(
    cluster, orch, ex, tmp_path
):
    marker = tmp_path / "executions"
    dep = deploy(orch, "pause_and_reschedule", params={"marker": str(marker)})
    run_id = submit(ex, deployment=dep.name)
    paused = wait_state(cluster, orch, run_id, PAUSED)
    assert paused.state.details.pause_reschedule
    (first_pid,) = [int(line) for line in marker.read_text().split()]
    wait_for(lambda: not pid_alive(first_pid), 5, "the paused run's process to exit", cluster)
    assert read(orch, run_id).state.type == PAUSED  # the exit did not crash it

    result = resume(ex, run_id)
    assert result.status == pb.PROPOSAL_STATUS_ACCEPT, result
    assert (result.state.type, result.state.name) == (SCHEDULED, "Resuming")

    run = wait_final(cluster, orch, run_id)
    assert run.state.type == COMPLETED, cluster.logs()
    pids = [int(line) for line in marker.read_text().split()]
    assert len(pids) == 2 and pids[0] != pids[1]  # a second process ran it
    details = ex.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=run_id))
    assert json.loads(details.result_json) == 2
    names = [s.name for s in ex_history(orch, run_id)]
    assert names.count("Paused") == 1 and "Resuming" in names, names


def test_a_pause_never_resumed_fails_the_run(cluster, orch, ex, tmp_path):
    dep = deploy(orch, "pause_and_reschedule", params={"marker": str(tmp_path / "m"), "timeout": 1})
    run_id = submit(ex, deployment=dep.name)
    wait_state(cluster, orch, run_id, PAUSED)
    run = wait_final(cluster, orch, run_id, timeout=5)
    assert run.state.type == FAILED and "never resumed" in run.state.message, run.state


def ex_history(orch, run_id):
    return orch.ReadStates(pb.ReadStatesRequest(run_kind=pb.RUN_KIND_FLOW, run_id=run_id)).states


def test_a_paused_run_is_cancelled_and_its_waiting_process_stops(cluster, orch, ex):
    run_id = submit(ex, entrypoint=module_entrypoint("pause_here"), params={"timeout": 20})
    wait_state(cluster, orch, run_id, PAUSED)
    answer = ex.CancelFlowRun(epb.CancelFlowRunRequest(flow_run_id=run_id))
    assert answer.state.type == CANCELLED, answer  # at once: nothing was running
    assert read(orch, run_id).state.type == CANCELLED
    # The paused process sees its run final at its next look and leaves; the run stays Cancelled.
    wait_for(lambda: not _engine_processes(run_id), 10, "the paused process to exit", cluster)
    assert read(orch, run_id).state.type == CANCELLED


def test_a_cancelled_pause_runs_the_flows_on_cancellation_hooks(cluster, orch, ex, tmp_path):
    marker = tmp_path / "hook"
    run_id = submit(
        ex, entrypoint=module_entrypoint("pause_with_cancel_hook"), params={"marker": str(marker)}
    )
    wait_state(cluster, orch, run_id, PAUSED)
    answer = ex.CancelFlowRun(epb.CancelFlowRunRequest(flow_run_id=run_id))
    assert answer.state.type == CANCELLED, answer
    # The waiting process leaves its pause, ends the run as Cancelled and runs the hook.
    assert wait_file(marker, 10, cluster) == "CANCELLED"
    wait_for(lambda: not _engine_processes(run_id), 10, "the paused process to exit", cluster)
    assert read(orch, run_id).state.type == CANCELLED


def test_a_rescheduled_pause_is_cancelled_at_once_and_never_run_again(cluster, orch, ex, tmp_path):
    marker = tmp_path / "executions"
    dep = deploy(orch, "pause_and_reschedule", params={"marker": str(marker)})
    run_id = submit(ex, deployment=dep.name)
    wait_state(cluster, orch, run_id, PAUSED)
    (pid,) = [int(line) for line in marker.read_text().split()]
    wait_for(lambda: not pid_alive(pid), 5, "the paused run's process to exit", cluster)

    answer = ex.CancelFlowRun(epb.CancelFlowRunRequest(flow_run_id=run_id))
    assert answer.state.type == CANCELLED, answer  # no process holds it: Cancelled directly
    error = rpc_error(ex.ResumeFlowRun, pb.ResumeFlowRunRequest(flow_run_id=run_id))
    assert "not paused" in error.details(), error.details()
    time.sleep(1.0)  # a worker's claim loop would have picked a Scheduled run up by now
    assert read(orch, run_id).state.type == CANCELLED
    assert len(marker.read_text().split()) == 1  # never run again
