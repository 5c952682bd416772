"""Claims under a lease, over the real service: one worker per run, a flow retried in place is
never claimed by another worker, and a lease that lapses frees or crashes the run."""

from __future__ import annotations

import time

from cadenza.v1 import orchestrator_pb2 as pb

from ._helpers import FAILED, FLOW, RUNNING, accepted, propose, read_flow, state, wait_until


def _deployed_run(stub, retries: int = 0) -> str:
    dep = stub.CreateDeployment(
        pb.CreateDeploymentRequest(name="d", flow_name="f", entrypoint="m:f")
    ).deployment
    run = stub.CreateFlowRunFromDeployment(
        pb.CreateFlowRunFromDeploymentRequest(deployment_id=dep.id)
    ).flow_run
    if retries:
        stub.UpdateFlowRun(
            pb.UpdateFlowRunRequest(
                flow_run_id=run.id,
                empirical_policy=pb.FlowRunPolicy(retries=retries, retry_delay_seconds=0.2),
            )
        )
    return run.id


def _claim(stub, worker: str, lease: float = 5.0) -> list[str]:
    req = pb.ClaimFlowRunsRequest(worker_id=worker, limit=5, lease_seconds=lease)
    return [r.id for r in stub.ClaimFlowRuns(req).flow_runs]


def test_a_flow_awaiting_its_retry_is_not_claimed_by_another_worker(stub):
    run_id = _deployed_run(stub, retries=1)
    assert _claim(stub, "w1") == [run_id]
    accepted(stub, FLOW, run_id, state(RUNNING))
    retry = propose(stub, FLOW, run_id, state(FAILED)).state
    assert retry.name == "AwaitingRetry"
    time.sleep(0.3)  # the retry is due: the process that failed runs it again, nobody else
    assert _claim(stub, "w2") == []
    assert read_flow(stub, run_id).worker_id == "w1"


def test_a_retry_whose_process_died_is_freed_for_any_worker(stub):
    run_id = _deployed_run(stub, retries=1)
    assert _claim(stub, "w1", lease=0.5) == [run_id]
    accepted(stub, FLOW, run_id, state(RUNNING))
    assert propose(stub, FLOW, run_id, state(FAILED)).state.name == "AwaitingRetry"
    # w1 never heartbeats: its lease lapses, the run stays AwaitingRetry (not Crashed) and is free.
    assert wait_until(lambda: read_flow(stub, run_id).worker_id == "", timeout=5)
    assert read_flow(stub, run_id).state.name == "AwaitingRetry"
    assert _claim(stub, "w2") == [run_id]
