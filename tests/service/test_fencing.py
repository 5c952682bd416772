"""Fenced leases over the real service: once a claim's lease lapses and the run is taken away,
the process that held it (an orphan) changes nothing: not its flow run, not its task runs, no
new task runs; its slots are freed only after the grace it has to stop; a new claim works."""

from __future__ import annotations

import time

import grpc
import pytest

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from orchestrator import BackgroundServer
from orchestrator.config import ServerConfig

from ._helpers import (
    COMPLETED,
    CRASHED,
    FAILED,
    FLOW,
    RUNNING,
    TASK,
    history,
    read_flow,
    state,
    wait_until,
)

GRACE = 0.6
LEASE = 0.4


@pytest.fixture
def stub(database):
    config = ServerConfig.from_env()
    config.lease_takeover_grace_seconds = GRACE
    server = BackgroundServer.start(db_path=database, config=config)
    channel = grpc.insecure_channel(server.address)
    yield pb_grpc.OrchestratorStub(channel)
    channel.close()
    server.stop()


def _claimed_run(stub, lease: float = LEASE) -> pb.FlowRun:
    dep = stub.CreateDeployment(
        pb.CreateDeploymentRequest(name="d", flow_name="f", entrypoint="m:f")
    ).deployment
    stub.CreateFlowRunFromDeployment(pb.CreateFlowRunFromDeploymentRequest(deployment_id=dep.id))
    (run,) = stub.ClaimFlowRuns(
        pb.ClaimFlowRunsRequest(worker_id="w1", limit=1, lease_seconds=lease)
    ).flow_runs
    return run


def _propose(stub, kind, run_id, st, epoch, force=False) -> pb.ProposeStateResponse:
    req = pb.ProposeStateRequest(run_kind=kind, run_id=run_id, state=st, force=force, lease_epoch=epoch)
    return stub.ProposeState(req, timeout=5)


def test_each_claim_has_a_new_epoch(stub):
    first = _claimed_run(stub)
    assert first.lease_epoch == 1
    assert read_flow(stub, first.id).lease_epoch == 1


def test_an_orphan_changes_nothing_after_its_run_was_taken_away(stub):
    stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag="one", concurrency_limit=1))
    run = _claimed_run(stub)
    epoch = run.lease_epoch
    assert _propose(stub, FLOW, run.id, state(RUNNING), epoch).status == pb.PROPOSAL_STATUS_ACCEPT
    created = stub.CreateTaskRun(
        pb.CreateTaskRunRequest(
            flow_run_id=run.id, task_key="t", tags=["one"], next_state=state(RUNNING), lease_epoch=epoch
        )
    )
    task = created.task_run
    assert created.next_state_result.status == pb.PROPOSAL_STATUS_ACCEPT

    # No heartbeat: the lease lapses. Within the grace the run is not taken away yet, and the
    # slot stays with the holder, which may still be acting.
    time.sleep(LEASE + 0.1)
    assert read_flow(stub, run.id).state.type == RUNNING
    limit = stub.ReadConcurrencyLimit(pb.ReadConcurrencyLimitRequest(tag="one")).concurrency_limit
    assert list(limit.active_slots) == [task.id]
    assert wait_until(lambda: read_flow(stub, run.id).state.type == CRASHED, timeout=5)
    assert wait_until(
        lambda: (
            not stub.ReadConcurrencyLimit(
                pb.ReadConcurrencyLimitRequest(tag="one")
            ).concurrency_limit.active_slots
        ),
        timeout=3,
    )
    flow_history = [s.id for s in history(stub, FLOW, run.id)]
    task_history = [s.id for s in history(stub, TASK, task.id)]

    # The orphan tries everything it did before: each is refused, nothing is stored.
    for kind, run_id, target, force in (
        (FLOW, run.id, FAILED, False),
        (FLOW, run.id, COMPLETED, True),
        (TASK, task.id, COMPLETED, False),
        (TASK, task.id, RUNNING, True),
    ):
        answer = _propose(stub, kind, run_id, state(target), epoch, force=force)
        assert answer.status == pb.PROPOSAL_STATUS_ABORT, answer
        assert "taken away" in answer.reason
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateTaskRun(
            pb.CreateTaskRunRequest(
                flow_run_id=run.id, task_key="t2", next_state=state(RUNNING), lease_epoch=epoch
            )
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "taken away" in info.value.details()
    assert [s.id for s in history(stub, FLOW, run.id)] == flow_history
    assert [s.id for s in history(stub, TASK, task.id)] == task_history
    assert len(stub.ListTaskRuns(pb.ListTaskRunsRequest(flow_run_id=run.id)).task_runs) == 1
    assert read_flow(stub, run.id).lease_epoch == epoch + 1


def test_a_subflow_is_under_its_parents_claim(stub):
    run = _claimed_run(stub)
    epoch = run.lease_epoch
    _propose(stub, FLOW, run.id, state(RUNNING), epoch)
    tracker = stub.CreateTaskRun(
        pb.CreateTaskRunRequest(
            flow_run_id=run.id, task_key="sub", next_state=state(RUNNING), lease_epoch=epoch
        )
    ).task_run
    child = stub.CreateFlowRun(
        pb.CreateFlowRunRequest(
            flow_name="child", parent_task_run_id=tracker.id, next_state=state(RUNNING), lease_epoch=epoch
        )
    )
    assert child.next_state_result.status == pb.PROPOSAL_STATUS_ACCEPT
    assert child.flow_run.lease_epoch == epoch
    assert wait_until(lambda: read_flow(stub, child.flow_run.id).state.type == CRASHED, timeout=5)
    answer = _propose(stub, FLOW, child.flow_run.id, state(COMPLETED), epoch)
    assert answer.status == pb.PROPOSAL_STATUS_ABORT and "taken away" in answer.reason
    assert read_flow(stub, child.flow_run.id).state.type == CRASHED
