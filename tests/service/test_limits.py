"""Tag concurrency limits over gRPC: CRUD by tag, short WAITs, ABORT at zero, slot release."""

from __future__ import annotations

import grpc

from cadenza.v1 import orchestrator_pb2 as pb

from ._helpers import (
    ABORT,
    ACCEPT,
    COMPLETED,
    CRASHED,
    FAILED,
    PENDING,
    RUNNING,
    SCHEDULED,
    TASK,
    WAIT,
    accepted,
    expect_error,
    new_task,
    propose,
    read_task,
    running_flow,
    sname,
    state,
)


def _limit(stub, tag: str) -> pb.ConcurrencyLimit:
    return stub.ReadConcurrencyLimit(pb.ReadConcurrencyLimitRequest(tag=tag)).concurrency_limit


def test_create_read_list_delete_by_tag(stub):
    made = stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag="db", concurrency_limit=2))
    assert made.concurrency_limit.tag == "db" and made.concurrency_limit.concurrency_limit == 2
    assert made.concurrency_limit.id
    stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag="api", concurrency_limit=5))

    read = _limit(stub, "db")
    assert read.id == made.concurrency_limit.id and read.concurrency_limit == 2
    assert list(read.active_slots) == []

    # Creating again for the same tag changes its value, keeping the limit's identity.
    stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag="db", concurrency_limit=3))
    assert _limit(stub, "db").concurrency_limit == 3
    assert _limit(stub, "db").id == made.concurrency_limit.id

    listed = stub.ListConcurrencyLimits(pb.ListConcurrencyLimitsRequest()).concurrency_limits
    assert [(lim.tag, lim.concurrency_limit) for lim in listed] == [("api", 5), ("db", 3)]

    stub.DeleteConcurrencyLimit(pb.DeleteConcurrencyLimitRequest(tag="db"))
    expect_error(
        grpc.StatusCode.NOT_FOUND,
        stub.ReadConcurrencyLimit,
        pb.ReadConcurrencyLimitRequest(tag="db"),
        names_field="db",
    )
    expect_error(
        grpc.StatusCode.NOT_FOUND, stub.DeleteConcurrencyLimit, pb.DeleteConcurrencyLimitRequest(tag="db")
    )
    listed = stub.ListConcurrencyLimits(pb.ListConcurrencyLimitsRequest()).concurrency_limits
    assert [lim.tag for lim in listed] == ["api"]


def test_full_limit_waits_briefly_then_admits_when_the_slot_frees(stub):
    stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag="db", concurrency_limit=1))
    flow = running_flow(stub)
    first = new_task(stub, flow.id, "first", tags=["db"])
    second = new_task(stub, flow.id, "second", tags=["db", "other"])

    accepted(stub, TASK, first.id, state(RUNNING))
    assert list(_limit(stub, "db").active_slots) == [first.id]

    waited = propose(stub, TASK, second.id, state(RUNNING))
    assert waited.status == WAIT, sname(waited.status)
    assert 0 < waited.delay_seconds < 1.0
    assert read_task(stub, second.id).state.type == PENDING  # a WAIT stores nothing
    assert list(_limit(stub, "db").active_slots) == [first.id]

    accepted(stub, TASK, first.id, state(COMPLETED))
    assert list(_limit(stub, "db").active_slots) == []

    resp = propose(stub, TASK, second.id, state(RUNNING))
    assert resp.status == ACCEPT, sname(resp.status)
    assert list(_limit(stub, "db").active_slots) == [second.id]


def test_limit_zero_aborts(stub):
    stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag="never", concurrency_limit=0))
    flow = running_flow(stub)
    task = new_task(stub, flow.id, tags=["never"])
    resp = propose(stub, TASK, task.id, state(RUNNING))
    assert resp.status == ABORT, sname(resp.status)
    assert resp.reason
    assert read_task(stub, task.id).state.type == PENDING


def test_forced_state_releases_the_slot(stub):
    stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag="gpu", concurrency_limit=1))
    flow = running_flow(stub)
    holder = new_task(stub, flow.id, "holder", tags=["gpu"])
    other = new_task(stub, flow.id, "other", tags=["gpu"])
    accepted(stub, TASK, holder.id, state(RUNNING))
    assert propose(stub, TASK, other.id, state(RUNNING)).status == WAIT

    crashed = propose(stub, TASK, holder.id, state(CRASHED, message="worker lost"), force=True)
    assert crashed.status == ACCEPT
    assert list(_limit(stub, "gpu").active_slots) == []
    assert propose(stub, TASK, other.id, state(RUNNING)).status == ACCEPT


def test_awaiting_retry_gives_the_slot_back(stub):
    stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag="db", concurrency_limit=1))
    flow = running_flow(stub)
    task = new_task(
        stub, flow.id, tags=["db"], empirical_policy=pb.TaskRunPolicy(retries=1, retry_delay_seconds=[0])
    )
    accepted(stub, TASK, task.id, state(RUNNING))
    assert list(_limit(stub, "db").active_slots) == [task.id]
    resp = propose(stub, TASK, task.id, state(FAILED))
    assert resp.state.type == SCHEDULED and resp.state.name == "AwaitingRetry"
    assert list(_limit(stub, "db").active_slots) == []


def test_deleted_limit_no_longer_limits(stub):
    stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag="db", concurrency_limit=0))
    stub.DeleteConcurrencyLimit(pb.DeleteConcurrencyLimitRequest(tag="db"))
    flow = running_flow(stub)
    task = new_task(stub, flow.id, tags=["db"])
    assert propose(stub, TASK, task.id, state(RUNNING)).status == ACCEPT


def test_a_freed_slot_goes_to_the_run_that_waited_first(stub):
    """Fair hand-over: a newcomer does not overtake a waiting run; the waiter re-proposes the
    same transition id after its WAIT and is then decided afresh."""
    stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag="db", concurrency_limit=1))
    flow = running_flow(stub)
    holder, waiter, newcomer = (new_task(stub, flow.id, key, tags=["db"]) for key in ("h", "w", "n"))
    accepted(stub, TASK, holder.id, state(RUNNING))
    tid = "waiter-running-1"
    assert propose(stub, TASK, waiter.id, state(RUNNING, transition_id=tid)).status == WAIT

    accepted(stub, TASK, holder.id, state(COMPLETED))
    overtaking = propose(stub, TASK, newcomer.id, state(RUNNING))
    assert overtaking.status == WAIT, sname(overtaking.status)
    assert overtaking.delay_seconds < 1.0

    served = propose(stub, TASK, waiter.id, state(RUNNING, transition_id=tid))
    assert served.status == ACCEPT, sname(served.status)
    assert list(_limit(stub, "db").active_slots) == [waiter.id]
    # The accepted answer is now the one a repeat of that transition id gets.
    assert propose(stub, TASK, waiter.id, state(RUNNING, transition_id=tid)) == served

    accepted(stub, TASK, waiter.id, state(COMPLETED))
    assert propose(stub, TASK, newcomer.id, state(RUNNING)).status == ACCEPT
