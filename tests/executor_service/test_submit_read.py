"""SubmitFlowRun (by deployment, by entrypoint, idempotent) and ReadFlowRun (state, parameters,
timings, JSON result, or a note for a Python-only result)."""

from __future__ import annotations

import json
from datetime import timedelta

from cadenza.v1 import executor_pb2 as epb
from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb

from ._harness import (
    CANCELLED,
    COMPLETED,
    SCHEDULED,
    deploy,
    module_entrypoint,
    submit,
    unique,
    utcnow,
    wait_final,
)


def read_details(ex, flow_run_id):
    return ex.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=flow_run_id))


def test_submit_by_deployment_reads_state_parameters_timings_and_json_result(cluster, orch, ex):
    dep = deploy(orch, "arithmetic", params={"x": 1, "y": 10})
    run_id = submit(ex, deployment=dep.name, params={"x": 4})  # merged over the defaults
    assert wait_final(cluster, orch, run_id).state.type == COMPLETED, cluster.logs()

    details = read_details(ex, run_id)
    run = details.flow_run
    assert run.id == run_id and run.deployment_id == dep.id
    assert run.state.type == COMPLETED
    assert json.loads(run.parameters_json) == {"x": 4, "y": 10}
    assert run.start_time.seconds and run.end_time.seconds
    assert run.end_time.ToDatetime() >= run.start_time.ToDatetime()
    assert run.total_run_time_seconds > 0
    assert details.has_result, details.result_note
    assert json.loads(details.result_json) == {"x": 4, "y": 10, "doubled_plus_y": 18}
    assert details.result_note == ""


def test_submit_by_allowed_entrypoint(cluster, orch, ex):
    run_id = submit(ex, entrypoint=module_entrypoint("arithmetic"), params={"x": 2}, tags=["by-entrypoint"])
    assert wait_final(cluster, orch, run_id).state.type == COMPLETED, cluster.logs()
    details = read_details(ex, run_id)
    assert details.flow_run.entrypoint == module_entrypoint("arithmetic")
    assert "by-entrypoint" in details.flow_run.tags
    assert details.has_result and json.loads(details.result_json)["doubled_plus_y"] == 5


def test_python_only_result_has_a_clear_note(cluster, orch, ex):
    for kind in ("set", "object"):
        run_id = submit(ex, entrypoint=module_entrypoint("python_only"), params={"kind": kind})
        assert wait_final(cluster, orch, run_id).state.type == COMPLETED, cluster.logs()
        details = read_details(ex, run_id)
        assert not details.has_result, (kind, details.result_json)
        assert details.result_json == ""
        assert "Python-only" in details.result_note, (kind, details.result_note)


def test_idempotency_key_returns_the_same_run(cluster, orch, ex):
    dep = deploy(orch, "quick")
    key = unique("key")
    first = ex.SubmitFlowRun(epb.SubmitFlowRunRequest(deployment_name=dep.name, idempotency_key=key))
    again = ex.SubmitFlowRun(epb.SubmitFlowRunRequest(deployment_name=dep.name, idempotency_key=key))
    assert first.created and not again.created
    assert again.flow_run_id == first.flow_run_id

    by_entrypoint = unique("key")
    one = ex.SubmitFlowRun(
        epb.SubmitFlowRunRequest(entrypoint=module_entrypoint("quick"), idempotency_key=by_entrypoint)
    )
    two = ex.SubmitFlowRun(
        epb.SubmitFlowRunRequest(entrypoint=module_entrypoint("quick"), idempotency_key=by_entrypoint)
    )
    assert (one.created, two.created) == (True, False) and one.flow_run_id == two.flow_run_id
    for run_id in (first.flow_run_id, one.flow_run_id):
        assert wait_final(cluster, orch, run_id).state.type == COMPLETED, cluster.logs()
    runs = ex.ListFlowRuns(pb.ListFlowRunsRequest(deployment_id=dep.id)).flow_runs
    assert [r.id for r in runs] == [first.flow_run_id]


def test_unfinished_run_reads_without_a_result(cluster, orch, ex):
    dep = deploy(orch, "quick")
    request = pb.CreateFlowRunFromDeploymentRequest(name=dep.name)
    request.scheduled_time.FromDatetime(utcnow() + timedelta(hours=1))
    run = orch.CreateFlowRunFromDeployment(request).flow_run
    try:
        details = read_details(ex, run.id)
        assert details.flow_run.state.type == SCHEDULED
        assert not details.has_result
        assert "not finished" in details.result_note and "SCHEDULED" in details.result_note
    finally:
        orch.SetFlowRunState(
            pb.SetFlowRunStateRequest(
                flow_run_id=run.id, state=spb.State(type=CANCELLED, name="Cancelled"), force=True
            )
        )
