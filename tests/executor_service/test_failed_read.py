"""ReadFlowRun of a run that raised reads as failed: its state and message, what it raised
(type, message, traceback) and a note on how it ended, not advice to persist a result."""

from __future__ import annotations

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb

from ._harness import FAILED, module_entrypoint, submit, task_runs, wait_final

WATCH_TIMEOUT = 15.0


def test_a_failed_run_reads_as_failed_with_its_exception(cluster, orch, ex):
    run_id = submit(ex, entrypoint=module_entrypoint("always_fails"))
    assert wait_final(cluster, orch, run_id).state.type == FAILED, cluster.logs()

    details = ex.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=run_id))
    state = details.flow_run.state
    assert state.type == FAILED and "ValueError: this flow always fails" in state.message, state
    assert (state.exception.type, state.exception.message) == ("ValueError", "this flow always fails")
    traceback = state.exception.traceback
    assert traceback.startswith("Traceback (most recent call last):"), traceback
    assert "flows.py" in traceback and 'raise ValueError("this flow always fails")' in traceback, traceback
    assert traceback.rstrip().endswith("ValueError: this flow always fails"), traceback
    assert not details.has_result and not details.result_json
    note = details.result_note
    assert "ended FAILED" in note and "ValueError" in note and "persist_result" not in note, note

    # A watch of the finished run shows the same failure.
    events = list(ex.WatchFlowRun(pb.WatchFlowRunRequest(flow_run_id=run_id), timeout=WATCH_TIMEOUT))
    flow_states = [e.state_change.state for e in events if e.state_change.run_id == run_id]
    assert flow_states[-1].exception.traceback == traceback


def test_a_task_failure_names_the_users_exception_class_on_the_task_and_the_flow(cluster, orch, ex):
    run_id = submit(ex, entrypoint=module_entrypoint("fails_in_task"), params={"reason": "not today"})
    assert wait_final(cluster, orch, run_id).state.type == FAILED, cluster.logs()

    details = ex.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=run_id))
    raised = details.flow_run.state.exception
    assert (raised.type, raised.message) == ("tests.executor_service.flows.Rejected", "not today")
    # From the flow's call of the task down to the raise in the task.
    assert "reject(reason)" in raised.traceback and "raise Rejected(reason)" in raised.traceback
    # The flow persists results, so the exception is stored as a Python object too; that does
    # not make the run read as a completed one with a Python-only result.
    assert details.flow_run.state.data.kind == spb.RESULT_KIND_PERSISTED
    assert "ended FAILED" in details.result_note and "Python" not in details.result_note

    (task,) = task_runs(orch, run_id)
    assert task.state.type == FAILED
    assert task.state.exception.type == "tests.executor_service.flows.Rejected"
    assert not task.state.exception.traceback  # a list page leaves it out; the read has it
    task_state = orch.ReadTaskRun(pb.ReadTaskRunRequest(task_run_id=task.id)).task_run.state
    assert "raise Rejected(reason)" in task_state.exception.traceback
