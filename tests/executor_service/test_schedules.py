"""Deployment schedules: an interval schedule's runs are created and executed; a cron schedule
keeps its next runs Scheduled; a Scheduled run past due with no executor becomes Late."""

from __future__ import annotations

import grpc
import pytest

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb

from ._harness import (
    CANCELLED,
    COMPLETED,
    SCHEDULED,
    Cluster,
    deploy,
    rpc_error,
    utcnow,
    wait_final,
    wait_for,
    wait_state,
)


def runs_of(orch, deployment_id):
    return list(
        orch.ListFlowRuns(pb.ListFlowRunsRequest(deployment_id=deployment_id, page_size=1000)).flow_runs
    )


def retire(orch, dep):
    """Delete the deployment and cancel the runs it still has queued."""
    orch.DeleteDeployment(pb.DeleteDeploymentRequest(name=dep.name))
    for run in runs_of(orch, dep.id):
        if run.state.type == SCHEDULED:
            orch.SetFlowRunState(
                pb.SetFlowRunStateRequest(
                    flow_run_id=run.id, state=spb.State(type=CANCELLED, name="Cancelled"), force=True
                )
            )


def test_interval_schedule_creates_and_executes_runs(cluster, orch):
    dep = deploy(orch, "quick", schedule=pb.Schedule(interval_seconds=1))
    try:

        def two_completed():
            done = [r for r in runs_of(orch, dep.id) if r.state.type == COMPLETED]
            return done if len(done) >= 2 else None

        done = wait_for(two_completed, 8, "two scheduled runs to complete", cluster, interval=0.2)
        runs = runs_of(orch, dep.id)
        assert all(r.idempotency_key.startswith(f"schedule:{dep.id}:") for r in runs)
        times = sorted(r.expected_start_time.ToDatetime() for r in runs)
        gaps = {round((b - a).total_seconds(), 3) for a, b in zip(times, times[1:])}
        assert gaps == {1.0}, times
        assert all(
            r.state.type in (SCHEDULED, spb.STATE_TYPE_PENDING, spb.STATE_TYPE_RUNNING, COMPLETED)
            for r in runs
        ), [(r.name, r.state.name) for r in runs]
        assert len(done) >= 2
    finally:
        retire(orch, dep)


def test_cron_schedule_keeps_its_next_runs_scheduled(cluster, orch):
    dep = deploy(orch, "quick", schedule=pb.Schedule(cron="*/5 * * * *"))
    try:
        runs = wait_for(
            lambda: len(runs_of(orch, dep.id)) >= 3 and runs_of(orch, dep.id),
            4,
            "the cron deployment's next runs",
            cluster,
            interval=0.2,
        )
        times = sorted(r.state.details.scheduled_time.ToDatetime() for r in runs)
        assert len(times) == 3
        assert all(t.minute % 5 == 0 and t.second == 0 for t in times), times
        assert all((b - a).total_seconds() == 300 for a, b in zip(times, times[1:])), times
        assert times[0] > utcnow().replace(tzinfo=None)
    finally:
        retire(orch, dep)


@pytest.mark.parametrize(
    "schedule, words",
    [
        (pb.Schedule(interval_seconds=5, cron="* * * * *"), "not both"),
        (pb.Schedule(cron="every minute"), "not a valid cron expression"),
        (pb.Schedule(interval_seconds=-1), "must not be negative"),
    ],
)
def test_bad_schedules_are_refused(cluster, orch, schedule, words):
    error = rpc_error(deploy, orch, "quick", schedule=schedule)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and words in error.details(), error.details()


def test_a_run_past_due_with_no_executor_becomes_late_then_runs(tmp_path):
    own = Cluster.start(
        tmp_path / "cluster", executors=0, orchestrator_env={"CADENZA_LATE_RUNS_AFTER_SECONDS": "0.5"}
    )
    try:
        orch = own.orch()
        dep = deploy(orch, "quick")
        request = pb.CreateFlowRunFromDeploymentRequest(name=dep.name)
        request.scheduled_time.FromDatetime(utcnow())
        run = orch.CreateFlowRunFromDeployment(request).flow_run
        late = wait_state(own, orch, run.id, SCHEDULED, timeout=4, name="Late")
        assert late.state.details.scheduled_time == run.state.details.scheduled_time

        own.add_executor()  # a late run is still due: the first worker to come runs it
        assert wait_final(own, orch, run.id).state.type == COMPLETED, own.logs()
    finally:
        own.stop()
