"""CADENZA_API_TOKEN on both services: calls without the right `authorization: Bearer` are
UNAUTHENTICATED and start nothing; with it, runs go end to end (the executor hands the token
to the orchestrator and to its child processes)."""

from __future__ import annotations

import subprocess

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza.v1 import executor_pb2 as epb
from cadenza.v1 import executor_pb2_grpc as epb_grpc
from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc

from ._harness import CADENZA, COMPLETED, REPO, Cluster, cli, deploy, module_entrypoint, submit, wait_final

TOKEN = "secret"
BAD_METADATA = {
    "missing": (),
    "wrong": (("authorization", "Bearer guess"),),
    "no-scheme": (("authorization", TOKEN),),
    "other-header": (("x-api-key", TOKEN),),
}


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    own = Cluster.start(tmp_path_factory.mktemp("secured"), CADENZA_API_TOKEN=TOKEN)
    try:
        yield own
    finally:
        own.stop()


@pytest.fixture(scope="module")
def deployment(secured):
    return deploy(secured.orch(), "arithmetic", params={"x": 20})


def count_runs(secured) -> int:
    return len(secured.orch().ListFlowRuns(pb.ListFlowRunsRequest(page_size=1000)).flow_runs)


@pytest.mark.parametrize("metadata", BAD_METADATA.values(), ids=BAD_METADATA.keys())
def test_without_the_right_token_nothing_runs(secured, deployment, metadata):
    before = count_runs(secured)
    ex = epb_grpc.ExecutorStub(grpc.insecure_channel(secured.executors[0].address))
    orch = pb_grpc.OrchestratorStub(grpc.insecure_channel(secured.orchestrator.address))
    calls = [
        lambda: ex.SubmitFlowRun(
            epb.SubmitFlowRunRequest(deployment_name=deployment.name), metadata=metadata, timeout=5
        ),
        lambda: ex.SubmitFlowRun(
            epb.SubmitFlowRunRequest(entrypoint=module_entrypoint("quick")), metadata=metadata, timeout=5
        ),
        lambda: ex.ListFlowRuns(pb.ListFlowRunsRequest(), metadata=metadata, timeout=5),
        lambda: list(ex.WatchFlowRun(pb.WatchFlowRunRequest(flow_run_id="x"), metadata=metadata, timeout=5)),
        lambda: orch.CreateFlowRunFromDeployment(
            pb.CreateFlowRunFromDeploymentRequest(name=deployment.name), metadata=metadata, timeout=5
        ),
        lambda: orch.ClaimFlowRuns(
            pb.ClaimFlowRunsRequest(worker_id="intruder", limit=1, lease_seconds=5),
            metadata=metadata,
            timeout=5,
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as info:
            call()
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED, info.value.details()
        assert "authorization: Bearer" in info.value.details(), info.value.details()
    assert count_runs(secured) == before


def test_health_stays_open_without_the_token(secured):
    for service in (secured.orchestrator, secured.executors[0]):
        stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(service.address))
        reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_with_the_token_runs_go_end_to_end(secured, deployment):
    ex, orch = secured.ex(), secured.orch()
    by_name = submit(ex, deployment=deployment.name)
    by_entrypoint = submit(ex, entrypoint=module_entrypoint("parent_flow"), params={"n": 1})
    for run_id in (by_name, by_entrypoint):
        assert wait_final(secured, orch, run_id).state.type == COMPLETED, secured.logs()
    events = list(ex.WatchFlowRun(pb.WatchFlowRunRequest(flow_run_id=by_entrypoint), timeout=10))
    assert events[-1].terminal
    details = ex.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=by_name))
    assert details.result_json and '"doubled_plus_y": 41' in details.result_json


def test_cli_sends_the_token_from_the_environment(secured, deployment):
    done = cli(secured, "run", deployment.name, "--watch")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Completed" in done.stdout

    env = secured.cli_env()
    env.pop("CADENZA_API_TOKEN")
    refused = subprocess.run(
        [CADENZA, "flow-run", "ls"], cwd=REPO, env=env, capture_output=True, text=True, timeout=30
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: UNAUTHENTICATED: "), refused.stderr
