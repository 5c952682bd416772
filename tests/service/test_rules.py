"""Orchestration rules seen end to end over gRPC: subflow mirroring, retries, caching."""

from __future__ import annotations

from datetime import timedelta

from cadenza.v1 import orchestrator_pb2 as pb

from ._helpers import (
    ACCEPT,
    CANCELLED,
    CANCELLING,
    COMPLETED,
    CRASHED,
    FAILED,
    FLOW,
    PENDING,
    REJECT,
    RUNNING,
    SCHEDULED,
    TASK,
    accepted,
    all_flow_runs,
    history,
    later,
    names,
    new_flow,
    new_task,
    propose,
    propose_until_decided,
    read_flow,
    read_task,
    running_flow,
    sname,
    state,
    types,
    utcnow,
    wait_until,
)


def test_subflow_states_are_mirrored_onto_the_tracking_task_run(stub):
    parent = running_flow(stub, flow_name="parent")
    tracker = new_task(stub, parent.id, "child-flow")
    child = new_flow(stub, flow_name="child", parent_task_run_id=tracker.id)
    assert child.parent_task_run_id == tracker.id
    accepted(stub, FLOW, child.id, state(RUNNING))
    accepted(stub, FLOW, child.id, state(COMPLETED))

    child_states = history(stub, FLOW, child.id)
    assert types(child_states) == ["STATE_TYPE_PENDING", "STATE_TYPE_RUNNING", "STATE_TYPE_COMPLETED"]
    assert all(s.details.task_run_id == tracker.id for s in child_states)

    mirrored = [s for s in history(stub, TASK, tracker.id) if s.details.child_flow_run_id]
    assert [s.type for s in mirrored] == [s.type for s in child_states]
    assert all(s.details.child_flow_run_id == child.id for s in mirrored)
    assert all(s.details.task_run_id == tracker.id for s in mirrored)
    assert all(s.details.flow_run_id == parent.id for s in mirrored)
    assert {s.id for s in mirrored}.isdisjoint({s.id for s in child_states})

    tracked = read_task(stub, tracker.id)
    assert tracked.state.type == COMPLETED and tracked.state.details.child_flow_run_id == child.id
    assert tracked.run_count == 1 and tracked.HasField("end_time")

    assert [r.id for r in all_flow_runs(stub, parent_task_run_id=tracker.id)] == [child.id]


def test_task_retries_end_to_end(stub):
    flow = running_flow(stub)
    task = new_task(stub, flow.id, empirical_policy=pb.TaskRunPolicy(retries=2, retry_delay_seconds=[0]))

    for attempt in (1, 2, 3):
        resp = propose_until_decided(stub, TASK, task.id, lambda: state(RUNNING))
        assert resp.status == ACCEPT, (sname(resp.status), resp.reason)
        assert resp.run_count == attempt
        failed = propose(stub, TASK, task.id, state(FAILED, message=f"boom {attempt}"))
        if attempt < 3:
            assert failed.status == REJECT, sname(failed.status)
            assert failed.state.type == SCHEDULED and failed.state.name == "AwaitingRetry"
            assert failed.state.message == f"boom {attempt}"
            assert failed.state.details.scheduled_time.ToDatetime() <= utcnow().replace(tzinfo=None)
        else:
            assert failed.status == ACCEPT, sname(failed.status)

    states = history(stub, TASK, task.id)
    assert names(states) == [
        "Pending",
        "Running",
        "AwaitingRetry",
        "Retrying",
        "AwaitingRetry",
        "Retrying",
        "Failed",
    ]
    run = read_task(stub, task.id)
    assert run.state.type == FAILED and run.run_count == 3


def test_retry_delay_becomes_a_wait(stub):
    flow = running_flow(stub)
    task = new_task(stub, flow.id, empirical_policy=pb.TaskRunPolicy(retries=1, retry_delay_seconds=[30]))
    accepted(stub, TASK, task.id, state(RUNNING))
    retry = propose(stub, TASK, task.id, state(FAILED))
    assert retry.state.name == "AwaitingRetry"
    due = retry.state.details.scheduled_time.ToDatetime()
    assert due > (utcnow() + timedelta(seconds=25)).replace(tzinfo=None)
    wait = propose(stub, TASK, task.id, state(RUNNING))
    assert sname(wait.status) == "PROPOSAL_STATUS_WAIT"
    assert 25 < wait.delay_seconds <= 30
    assert read_task(stub, task.id).state.id == retry.state.id


def test_cache_insertion_and_retrieval(stub):
    flow = running_flow(stub)
    producer = new_task(stub, flow.id, "producer", next_state=state(RUNNING))
    done = accepted(stub, TASK, producer.id, state(COMPLETED, persisted="results/abc.json", cache_key="k-1"))

    consumer = new_task(stub, flow.id, "consumer")
    hit = propose(stub, TASK, consumer.id, state(RUNNING, cache_key="k-1"))
    assert hit.status == REJECT, sname(hit.status)
    assert hit.state.type == COMPLETED and hit.state.name == "Cached"
    assert hit.state.id != done.id
    assert hit.state.data.storage_key == "results/abc.json"
    current = read_task(stub, consumer.id)
    assert current.state.id == hit.state.id
    assert names(history(stub, TASK, consumer.id)) == ["Pending", "Cached"]

    # refresh_cache runs anyway; a different key misses.
    fresh = new_task(stub, flow.id, "refresh")
    assert propose(stub, TASK, fresh.id, state(RUNNING, cache_key="k-1", refresh_cache=True)).status == ACCEPT
    miss = new_task(stub, flow.id, "miss")
    assert propose(stub, TASK, miss.id, state(RUNNING, cache_key="k-2")).status == ACCEPT


def test_expired_cache_entry_is_not_used(stub):
    flow = running_flow(stub)
    producer = new_task(stub, flow.id, "producer", next_state=state(RUNNING))
    accepted(
        stub,
        TASK,
        producer.id,
        state(COMPLETED, persisted="r.json", cache_key="short", cache_expiration=later(-1)),
    )
    consumer = new_task(stub, flow.id, "consumer")
    resp = propose(stub, TASK, consumer.id, state(RUNNING, cache_key="short"))
    assert resp.status == ACCEPT, sname(resp.status)
    assert resp.state.type == RUNNING
    assert PENDING == history(stub, TASK, consumer.id)[0].type


def test_task_of_a_flow_that_is_not_running_may_not_start(stub):
    flow = new_flow(stub)
    task = new_task(stub, flow.id)
    resp = propose(stub, TASK, task.id, state(RUNNING))
    assert sname(resp.status) == "PROPOSAL_STATUS_ABORT"
    assert resp.reason
    assert read_task(stub, task.id).state.type == PENDING


def test_cancelling_only_leads_to_cancelled(stub):
    flow = running_flow(stub, worker_id="script-1", lease_seconds=30)  # a process holds it
    cancelling = accepted(stub, FLOW, flow.id, state(CANCELLING))
    crash = propose(stub, FLOW, flow.id, state(CRASHED, message="SIGTERM"))
    assert crash.status == REJECT, sname(crash.status)
    assert crash.state.id == cancelling.id  # it stays Cancelling
    assert types(history(stub, FLOW, flow.id))[-1] == "STATE_TYPE_CANCELLING"
    assert propose(stub, FLOW, flow.id, state(CANCELLED)).status == ACCEPT


def test_cancelled_flow_run_cancels_its_live_task_runs_and_frees_their_slots(stub):
    stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag="db", concurrency_limit=1))
    flow = running_flow(stub)
    busy = new_task(stub, flow.id, "busy", tags=["db"], next_state=state(RUNNING))
    done = new_task(stub, flow.id, "done", next_state=state(RUNNING))
    accepted(stub, TASK, done.id, state(COMPLETED))
    forced = stub.SetFlowRunState(
        pb.SetFlowRunStateRequest(flow_run_id=flow.id, state=state(CANCELLED), force=True)
    ).result
    assert forced.status == ACCEPT

    assert wait_until(lambda: read_task(stub, busy.id).state.type == CANCELLED)
    assert read_task(stub, busy.id).state.message == "The parent flow run was cancelled."
    assert read_task(stub, done.id).state.type == COMPLETED  # final task runs are left alone
    limit = stub.ReadConcurrencyLimit(pb.ReadConcurrencyLimitRequest(tag="db")).concurrency_limit
    assert list(limit.active_slots) == []


def test_a_flow_run_created_by_its_holder_carries_the_lease(stub):
    flow = running_flow(stub, worker_id="script-1", lease_seconds=30)
    assert flow.worker_id == "script-1" and flow.HasField("lease_expiration")
    beat = stub.Heartbeat(pb.HeartbeatRequest(worker_id="script-1", flow_run_ids=[flow.id], lease_seconds=30))
    assert list(beat.lost) == [] and list(beat.cancel_requested) == []


def test_cancelling_a_run_no_process_holds_cancels_it_at_once(stub):
    flow = running_flow(stub)
    answer = propose(stub, FLOW, flow.id, state(CANCELLING, message="by user"))
    assert answer.status == REJECT and answer.state.type == CANCELLED, answer
    assert answer.state.message == "by user"
    assert read_flow(stub, flow.id).state.type == CANCELLED
