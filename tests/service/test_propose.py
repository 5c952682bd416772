"""ProposeState over unary gRPC: lifecycle bookkeeping, refusals, idempotency, stale proposals."""

from __future__ import annotations

import time

import grpc
import pytest

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from orchestrator import BackgroundServer

from ._helpers import (
    ABORT,
    ACCEPT,
    COMPLETED,
    CRASHED,
    FLOW,
    PENDING,
    REJECT,
    RUNNING,
    TASK,
    accepted,
    all_flow_runs,
    history,
    ids,
    new_flow,
    new_task,
    propose,
    read_flow,
    read_task,
    running_flow,
    sname,
    state,
    types,
    uid,
)
from ._poison import cure, poison


def test_flow_run_lifecycle_bookkeeping_and_history(stub):
    run = new_flow(stub, flow_name="etl")
    assert run.state.type == PENDING
    assert run.run_count == 0
    assert not run.HasField("start_time")
    pending_id = run.state.id

    resp = propose(stub, FLOW, run.id, state(RUNNING))
    assert resp.status == ACCEPT
    assert resp.run_count == 1
    running = resp.state
    assert running.type == RUNNING and running.id and running.id != pending_id
    assert running.details.flow_run_id == run.id

    after_start = read_flow(stub, run.id)
    assert after_start.state.id == running.id
    assert after_start.run_count == 1
    assert after_start.start_time.ToDatetime() == running.timestamp.ToDatetime()
    assert not after_start.HasField("end_time")

    time.sleep(0.05)
    resp = propose(stub, FLOW, run.id, state(COMPLETED))
    assert resp.status == ACCEPT
    assert resp.run_count == 1
    completed = resp.state

    done = read_flow(stub, run.id)
    assert done.state.type == COMPLETED and done.state.id == completed.id
    assert done.run_count == 1
    assert done.start_time.ToDatetime() == running.timestamp.ToDatetime()
    assert done.end_time.ToDatetime() == completed.timestamp.ToDatetime()
    elapsed = (completed.timestamp.ToDatetime() - running.timestamp.ToDatetime()).total_seconds()
    assert elapsed >= 0.05
    assert abs(done.total_run_time_seconds - elapsed) < 1e-3

    states = history(stub, FLOW, run.id)
    assert types(states) == ["STATE_TYPE_PENDING", "STATE_TYPE_RUNNING", "STATE_TYPE_COMPLETED"]
    assert ids(states) == [pending_id, running.id, completed.id]
    stamps = [s.timestamp.ToDatetime() for s in states]
    assert stamps == sorted(stamps)


def test_refused_transition_is_an_answer_and_stores_nothing(stub):
    run = running_flow(stub)
    before = history(stub, FLOW, run.id)

    # Running -> Pending is the "submitted twice" guard: ABORT with a reason, not an error.
    resp = propose(stub, FLOW, run.id, state(PENDING))
    assert resp.status == ABORT, sname(resp.status)
    assert resp.reason
    assert resp.state.id == run.state.id  # ABORT carries the current state
    assert ids(history(stub, FLOW, run.id)) == ids(before)
    now = read_flow(stub, run.id)
    assert now.state.id == run.state.id and now.run_count == 1

    done = accepted(stub, FLOW, run.id, state(COMPLETED, persisted="results/r1.json"))

    # Out of a terminal state: CRASHED aborts, a non-final state is rejected back to Completed.
    resp = propose(stub, FLOW, run.id, state(CRASHED))
    assert resp.status == ABORT and resp.reason
    resp = propose(stub, FLOW, run.id, state(RUNNING))
    assert resp.status == REJECT, sname(resp.status)
    assert resp.reason
    assert resp.state.id == done.id and resp.state.type == COMPLETED
    assert resp.run_count == 1

    assert types(history(stub, FLOW, run.id)) == [
        "STATE_TYPE_PENDING",
        "STATE_TYPE_RUNNING",
        "STATE_TYPE_COMPLETED",
    ]
    final = read_flow(stub, run.id)
    assert final.state.id == done.id and final.run_count == 1


def test_set_flow_run_state_force_bypasses_the_rules(stub):
    run = running_flow(stub)
    refused = stub.SetFlowRunState(pb.SetFlowRunStateRequest(flow_run_id=run.id, state=state(PENDING)))
    assert refused.result.status == ABORT
    assert read_flow(stub, run.id).state.type == RUNNING

    forced = stub.SetFlowRunState(
        pb.SetFlowRunStateRequest(flow_run_id=run.id, state=state(PENDING, "Requeued"), force=True)
    )
    assert forced.result.status == ACCEPT
    assert forced.result.state.name == "Requeued"
    assert read_flow(stub, run.id).state.id == forced.result.state.id
    assert types(history(stub, FLOW, run.id))[-1] == "STATE_TYPE_PENDING"


def test_same_transition_id_returns_first_answer_and_stores_once(stub, server, database):
    run = new_flow(stub)
    tid = uid()
    first = propose(stub, FLOW, run.id, state(RUNNING, transition_id=tid))
    assert first.status == ACCEPT

    again = propose(stub, FLOW, run.id, state(RUNNING, transition_id=tid))
    assert again == first
    # Even a different proposal under a known transition id changes nothing.
    other = propose(stub, FLOW, run.id, state(COMPLETED, transition_id=tid))
    assert other == first

    assert types(history(stub, FLOW, run.id)) == ["STATE_TYPE_PENDING", "STATE_TYPE_RUNNING"]
    current = read_flow(stub, run.id)
    assert current.state.id == first.state.id and current.run_count == 1

    # The first answer is durable: a restarted orchestrator still returns it.
    server.stop()
    restarted = BackgroundServer.start(db_path=database, port=0)
    try:
        with grpc.insecure_channel(restarted.address) as ch:
            stub2 = pb_grpc.OrchestratorStub(ch)
            assert propose(stub2, FLOW, run.id, state(RUNNING, transition_id=tid)) == first
            assert len(history(stub2, FLOW, run.id)) == 2
    finally:
        restarted.stop()


def test_create_flow_run_idempotency_key(stub):
    first = stub.CreateFlowRun(pb.CreateFlowRunRequest(flow_name="f", idempotency_key="nightly-1"))
    assert first.created
    second = stub.CreateFlowRun(
        pb.CreateFlowRunRequest(flow_name="f", idempotency_key="nightly-1", name="other-name")
    )
    assert not second.created
    assert second.flow_run.id == first.flow_run.id
    assert second.flow_run.name == first.flow_run.name
    third = stub.CreateFlowRun(pb.CreateFlowRunRequest(flow_name="f", idempotency_key="nightly-2"))
    assert third.created and third.flow_run.id != first.flow_run.id
    assert len(all_flow_runs(stub)) == 2
    assert len(history(stub, FLOW, first.flow_run.id)) == 1


def test_create_task_run_idempotent_on_flow_task_key_dynamic_key(stub):
    flow = running_flow(stub)
    req = pb.CreateTaskRunRequest(flow_run_id=flow.id, task_key="extract", dynamic_key="0")
    first = stub.CreateTaskRun(req)
    assert first.created
    second = stub.CreateTaskRun(req)
    assert not second.created and second.task_run.id == first.task_run.id

    other = stub.CreateTaskRun(
        pb.CreateTaskRunRequest(flow_run_id=flow.id, task_key="extract", dynamic_key="1")
    )
    assert other.created and other.task_run.id != first.task_run.id

    keyed = stub.CreateTaskRun(
        pb.CreateTaskRunRequest(
            flow_run_id=flow.id, task_key="load", dynamic_key="0", idempotency_key="load-once"
        )
    )
    assert keyed.created
    again = stub.CreateTaskRun(
        pb.CreateTaskRunRequest(
            flow_run_id=flow.id, task_key="load", dynamic_key="7", idempotency_key="load-once"
        )
    )
    assert not again.created and again.task_run.id == keyed.task_run.id

    runs = stub.ListTaskRuns(pb.ListTaskRunsRequest(flow_run_id=flow.id)).task_runs
    assert sorted(r.id for r in runs) == sorted({first.task_run.id, other.task_run.id, keyed.task_run.id})
    assert len(history(stub, TASK, first.task_run.id)) == 1


def test_stale_expected_state_id_is_rejected_with_current_state(stub):
    run = new_flow(stub)
    pending_id = run.state.id
    running = accepted(stub, FLOW, run.id, state(RUNNING), expected=pending_id)

    stale = propose(stub, FLOW, run.id, state(COMPLETED), expected=pending_id)
    assert stale.status == REJECT, sname(stale.status)
    assert stale.state.id == running.id and stale.state.type == RUNNING
    assert stale.reason
    unknown = propose(stub, FLOW, run.id, state(COMPLETED), expected=uid())
    assert unknown.status == REJECT and unknown.state.id == running.id

    assert ids(history(stub, FLOW, run.id)) == [pending_id, running.id]
    assert read_flow(stub, run.id).state.id == running.id

    fresh = propose(stub, FLOW, run.id, state(COMPLETED), expected=running.id)
    assert fresh.status == ACCEPT


def test_stale_expected_state_id_on_a_task_run(stub):
    flow = running_flow(stub)
    task = new_task(stub, flow.id)
    running = accepted(stub, TASK, task.id, state(RUNNING), expected=task.state.id)
    stale = propose(stub, TASK, task.id, state(COMPLETED), expected=task.state.id)
    assert stale.status == REJECT and stale.state.id == running.id
    assert ids(history(stub, TASK, task.id)) == [task.state.id, running.id]
    assert read_task(stub, task.id).state.id == running.id


def test_create_task_run_retried_with_the_same_next_state_transition(stub):
    """The engine resends an unanswered create+propose unchanged: one run, one RUNNING."""
    flow = running_flow(stub)
    req = pb.CreateTaskRunRequest(
        flow_run_id=flow.id, task_key="t", dynamic_key="0", next_state=state(RUNNING, transition_id=uid())
    )
    first = stub.CreateTaskRun(req)
    again = stub.CreateTaskRun(req)
    assert first.created and not again.created
    assert again.task_run.id == first.task_run.id
    assert again.next_state_result == first.next_state_result
    assert first.next_state_result.status == ACCEPT
    assert types(history(stub, TASK, first.task_run.id)) == ["STATE_TYPE_PENDING", "STATE_TYPE_RUNNING"]
    assert read_task(stub, first.task_run.id).run_count == 1


def test_an_answer_whose_commit_failed_is_not_replayed_to_a_retry(server, stub, database):
    """The orchestrator says "retry" (UNAVAILABLE) when a commit fails; retrying the same
    transition id must be decided afresh, not answered with a state that was never stored."""
    run = new_flow(stub)
    poison(database, "states", f"NEW.run_id = '{run.id}'", "disk full (simulated)")  # refused once
    tid = uid()
    with pytest.raises(grpc.RpcError) as info:
        propose(stub, FLOW, run.id, state(RUNNING, transition_id=tid))
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert read_flow(stub, run.id).state.type == PENDING
    cure(database, "states")
    retry = propose(stub, FLOW, run.id, state(RUNNING, transition_id=tid))
    assert retry.status == ACCEPT
    stored = ids(history(stub, FLOW, run.id))
    assert retry.state.id == stored[-1]
    assert read_flow(stub, run.id).state.id == stored[-1]
