"""Deployments, concurrency limits and logs are the database's, not a replica's: what is made,
changed or deleted through one replica is what the other reads and acts on, at once."""

from __future__ import annotations

from datetime import timedelta

import grpc

from cadenza.v1 import orchestrator_pb2 as pb
from tests.service._helpers import (
    ACCEPT,
    FLOW,
    RUNNING,
    TASK,
    TIMEOUT,
    WAIT,
    accepted,
    expect_error,
    new_flow,
    new_task,
    propose,
    sname,
    state,
    uid,
    utcnow,
)

from ._helpers import deployment


def test_a_deployment_made_through_one_replica_is_read_used_and_deleted_through_the_other(pair):
    a, b = pair
    dep = deployment(a.stub, description="first")
    read = b.stub.ReadDeployment(pb.ReadDeploymentRequest(name=dep.name), timeout=TIMEOUT).deployment
    assert read.id == dep.id
    listed = b.stub.ListDeployments(pb.ListDeploymentsRequest(), timeout=TIMEOUT).deployments
    assert dep.id in {d.id for d in listed}
    # Scheduled far ahead: no worker of the package's claim tests may take it.
    req = pb.CreateFlowRunFromDeploymentRequest(name=dep.name)
    req.scheduled_time.FromDatetime(utcnow() + timedelta(days=1))
    run = b.stub.CreateFlowRunFromDeployment(req, timeout=TIMEOUT).flow_run
    assert run.deployment_id == dep.id and run.entrypoint == dep.entrypoint

    update = pb.CreateDeploymentRequest(name=dep.name, flow_name="f", entrypoint="m:f", description="second")
    again = b.stub.CreateDeployment(update, timeout=TIMEOUT)
    assert (again.created, again.deployment.id) == (False, dep.id)
    by_id = pb.ReadDeploymentRequest(deployment_id=dep.id)
    assert a.stub.ReadDeployment(by_id, timeout=TIMEOUT).deployment.description == "second"

    b.stub.DeleteDeployment(pb.DeleteDeploymentRequest(name=dep.name), timeout=TIMEOUT)
    expect_error(grpc.StatusCode.NOT_FOUND, a.stub.ReadDeployment, by_id)


def test_a_concurrency_limit_set_through_one_replica_applies_through_the_other(pair):
    a, b = pair
    tag = f"res-{uid()}"
    a.stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag=tag, concurrency_limit=1))
    flow = new_flow(b.stub, flow_name="limited")
    accepted(b.stub, FLOW, flow.id, state(RUNNING))
    first, second = (new_task(b.stub, flow.id, key, tags=[tag]) for key in ("first", "second"))
    accepted(b.stub, TASK, first.id, state(RUNNING))
    read = a.stub.ReadConcurrencyLimit(pb.ReadConcurrencyLimitRequest(tag=tag), timeout=TIMEOUT)
    assert list(read.concurrency_limit.active_slots) == [first.id]
    waited = propose(a.stub, TASK, second.id, state(RUNNING))
    assert waited.status == WAIT, (sname(waited.status), waited.reason)

    b.stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag=tag, concurrency_limit=2))
    admitted = propose(a.stub, TASK, second.id, state(RUNNING))
    assert admitted.status == ACCEPT, (sname(admitted.status), admitted.reason)

    b.stub.DeleteConcurrencyLimit(pb.DeleteConcurrencyLimitRequest(tag=tag), timeout=TIMEOUT)
    expect_error(
        grpc.StatusCode.NOT_FOUND, a.stub.ReadConcurrencyLimit, pb.ReadConcurrencyLimitRequest(tag=tag)
    )


def test_logs_written_through_one_replica_are_read_through_the_other(pair):
    a, b = pair
    flow = new_flow(a.stub, flow_name="logged")
    entries = [
        pb.LogEntry(flow_run_id=flow.id, logger_name="t", level=20, message=f"line {i}") for i in range(3)
    ]
    for entry in entries:
        entry.timestamp.FromDatetime(utcnow())
    a.stub.WriteLogs(pb.WriteLogsRequest(logs=entries), timeout=TIMEOUT)
    read = b.stub.ReadLogs(pb.ReadLogsRequest(flow_run_id=flow.id), timeout=TIMEOUT).logs
    assert [entry.message for entry in read] == ["line 0", "line 1", "line 2"]
