"""A group commit whose items fail alone, and a failed commit that leaves no trace in memory,
on each store (store failures are made real by _poison.py)."""

from __future__ import annotations

import grpc

from cadenza.v1 import orchestrator_pb2 as pb

from ._helpers import FLOW, PENDING, RUNNING, TASK, BidiStream, history, running_flow, state
from ._poison import cure, poison

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE.value[0]


def _envelope(stream: BidiStream, *requests: pb.ProposeStatesRequest) -> None:
    stream._requests.put(pb.ProposeStatesRequest(more=list(requests)))


def _create_task(request_id: int, flow_run_id: str, key: str, **kw) -> pb.ProposeStatesRequest:
    create = pb.CreateTaskRunRequest(flow_run_id=flow_run_id, task_key=key, **kw)
    return pb.ProposeStatesRequest(request_id=request_id, create_task_run=create)


def test_two_creates_with_one_key_in_one_turn_make_one_run(stub):
    flow = running_flow(stub)
    stream = BidiStream(stub)
    try:
        _envelope(
            stream,
            _create_task(1, flow.id, "a", idempotency_key="same", next_state=state(RUNNING)),
            _create_task(2, flow.id, "a", idempotency_key="same", next_state=state(RUNNING)),
            _create_task(3, flow.id, "b", next_state=state(RUNNING)),
        )
        first, second, other = stream.wait(1, 2, 3)
    finally:
        stream.close()
    for answer in (first, second, other):
        assert not answer.HasField("error"), answer.error.message
    assert first.task_run_created.created and not second.task_run_created.created
    assert first.task_run_created.task_run.id == second.task_run_created.task_run.id
    assert other.task_run_created.created


def test_an_item_that_cannot_be_stored_fails_alone(stub, database):
    flow = running_flow(stub)
    poison(database, "task_runs", "NEW.task_key = 'poison'")
    stream = BidiStream(stub)
    try:
        _envelope(
            stream,
            _create_task(1, flow.id, "poison", next_state=state(RUNNING)),
            _create_task(2, flow.id, "fine", next_state=state(RUNNING)),
        )
        poisoned, fine = stream.wait(1, 2)
    finally:
        stream.close()
    assert poisoned.error.code == UNAVAILABLE and "retry" in poisoned.error.message
    assert not fine.HasField("error")
    assert fine.task_run_created.next_state_result.state.type == RUNNING
    assert [s.type for s in history(stub, TASK, fine.task_run_created.task_run.id)] == [PENDING, RUNNING]

    # Nothing of the failed create stays in memory: made again, it is new, with a full history.
    cure(database, "task_runs")
    again = stub.CreateTaskRun(
        pb.CreateTaskRunRequest(flow_run_id=flow.id, task_key="poison", next_state=state(RUNNING))
    )
    assert again.created
    assert [s.type for s in history(stub, TASK, again.task_run.id)] == [PENDING, RUNNING]


def test_a_slot_taken_by_a_change_that_failed_is_given_back(stub, database):
    stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag="db", concurrency_limit=1))
    flow = running_flow(stub)
    first = stub.CreateTaskRun(
        pb.CreateTaskRunRequest(flow_run_id=flow.id, task_key="t1", tags=["db"])
    ).task_run
    poison(database, "states", f"NEW.run_id = '{first.id}'")
    try:
        stub.ProposeState(pb.ProposeStateRequest(run_kind=TASK, run_id=first.id, state=state(RUNNING)))
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.UNAVAILABLE
    else:
        raise AssertionError("the poisoned proposal was answered as if stored")
    cure(database, "states")
    limit = stub.ReadConcurrencyLimit(pb.ReadConcurrencyLimitRequest(tag="db")).concurrency_limit
    assert list(limit.active_slots) == []
    # The run is still Pending as stored, and the slot is free for anyone.
    assert [s.type for s in history(stub, TASK, first.id)] == [PENDING]
    second = stub.CreateTaskRun(
        pb.CreateTaskRunRequest(flow_run_id=flow.id, task_key="t2", tags=["db"], next_state=state(RUNNING))
    )
    assert second.next_state_result.state.type == RUNNING
    assert history(stub, FLOW, flow.id)[-1].type == RUNNING
