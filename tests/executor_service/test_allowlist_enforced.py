"""CADENZA_ALLOWED_ENTRYPOINTS holds on every way a run reaches the executor: a submit by
deployment, a run created straight at the orchestrator and claimed by the worker, and the
flow-run process itself. Code outside the allowlist is never imported: each flow file here
writes a marker file when imported, and the marker must never appear.

The shared cluster allows `tests.executor_service` and the directory of its flow files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from cadenza.v1 import executor_pb2 as epb
from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb
from tests.clients._services import REPO, service_env, tail

from ._harness import (
    COMPLETED,
    FAILED,
    FLOWS_FILE,
    Cluster,
    count_flow_runs,
    deploy,
    read,
    rpc_error,
    submit,
    unique,
    wait_final,
)

SOURCE = """\
from pathlib import Path

Path({marker!r}).write_text("imported")

from executor import flow


@flow
def hello():
    return "should never run"
"""


@pytest.fixture
def outside(tmp_path) -> tuple[Path, Path]:
    """(a flow file outside the allowlist, the marker importing it would write)."""
    marker = tmp_path / "imported"
    path = tmp_path / "outside_flows.py"
    path.write_text(SOURCE.format(marker=str(marker)))
    return path, marker


def escapes(path: Path) -> list[str]:
    """Entrypoints of `path` that are outside the allowlist however they are written."""
    up = "../" * len(FLOWS_FILE.parent.parts)  # from the allowed directory up to /
    return [f"{path}:hello", f"{FLOWS_FILE.parent}/{up}{path.relative_to('/')}:hello"]


def create_scheduled_run(orch, entrypoint: str) -> str:
    """A run made straight at the orchestrator, due now: the executor's worker claims it."""
    request = pb.CreateFlowRunRequest(
        flow_name="hello",
        entrypoint=entrypoint,
        state=spb.State(type=spb.STATE_TYPE_SCHEDULED, name="Scheduled"),
    )
    return orch.CreateFlowRun(request).flow_run.id


def test_a_deployment_outside_the_allowlist_is_refused_at_submit(cluster, orch, ex, outside):
    path, marker = outside
    for entrypoint in escapes(path):
        dep = deploy(orch, "hello", entrypoint=entrypoint)
        before = count_flow_runs(orch)
        error = rpc_error(ex.SubmitFlowRun, epb.SubmitFlowRunRequest(deployment_name=dep.name))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
        for words in (entrypoint, "not allowed", "CADENZA_ALLOWED_ENTRYPOINTS", str(FLOWS_FILE.parent)):
            assert words in error.details(), (words, error.details())
        assert count_flow_runs(orch) == before
    assert not marker.exists()


def test_a_deployment_of_a_module_outside_the_allowlist_is_refused_at_submit(cluster, orch, ex):
    dep = deploy(orch, "hello", entrypoint="json.decoder:hello")
    error = rpc_error(ex.SubmitFlowRun, epb.SubmitFlowRunRequest(deployment_name=dep.name))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
    assert "json" in error.details() and "outside every allowed directory" in error.details()


def test_a_claimed_run_outside_the_allowlist_fails_without_a_process(cluster, orch, outside):
    path, marker = outside
    for entrypoint in escapes(path):
        run_id = create_scheduled_run(orch, entrypoint)
        run = wait_final(cluster, orch, run_id)
        assert run.state.type == FAILED, cluster.logs()
        for words in (entrypoint, "not allowed", "CADENZA_ALLOWED_ENTRYPOINTS"):
            assert words in run.state.message, (words, run.state.message)
        log = tail(cluster.executors[0].log_path, 10_000)
        assert f"flow run {run_id} not started" in log, log
        assert f"flow run {run_id} ({entrypoint}) started in process" not in log, log
    assert not marker.exists()


def test_runs_inside_the_allowlist_still_run(cluster, orch, ex):
    dep = deploy(orch, "quick")  # a file under tests/executor_service
    by_deployment = submit(ex, deployment=dep.name)
    claimed = create_scheduled_run(orch, f"{FLOWS_FILE}:quick")
    for run_id in (by_deployment, claimed):
        assert wait_final(cluster, orch, run_id).state.type == COMPLETED, cluster.logs()


def test_the_flow_run_process_checks_too(tmp_path, outside):
    """A worker that did not check (an older one, say) still gets no import: the process
    fails the run itself."""
    path, marker = outside
    own = Cluster.start(tmp_path / "cluster", executors=0)
    try:
        orch = own.orch()
        run_id = create_scheduled_run(orch, f"{path}:hello")
        claim = pb.ClaimFlowRunsRequest(worker_id=unique("old-worker"), limit=1, lease_seconds=30)
        assert [run.id for run in orch.ClaimFlowRuns(claim).flow_runs] == [run_id]
        done = subprocess.run(
            [sys.executable, "-m", "executor.engine", run_id],
            env=service_env(
                **own.env, CADENZA_HOME=str(own.home), CADENZA_ORCHESTRATOR=own.orchestrator.address
            ),
            capture_output=True,
            text=True,
            timeout=60,
        )
        run = read(orch, run_id)
        assert run.state.type == FAILED, (done.returncode, done.stderr[-3000:])
        assert "not allowed" in run.state.message and "CADENZA_ALLOWED_ENTRYPOINTS" in run.state.message
        assert not marker.exists()
    finally:
        own.stop()


def test_unset_the_allowlist_is_the_executors_working_directory(tmp_path, outside):
    """The services' tests start the executor in the repository, so its files run and a file
    elsewhere does not."""
    path, marker = outside
    own = Cluster.start(tmp_path / "cluster", executors=0)
    try:
        own.env.pop("CADENZA_ALLOWED_ENTRYPOINTS")
        own.add_executor()
        orch, ex = own.orch(), own.ex()
        assert (
            wait_final(own, orch, submit(ex, deployment=deploy(orch, "quick").name)).state.type == COMPLETED
        )
        refused = deploy(orch, "hello", entrypoint=f"{path}:hello")
        error = rpc_error(ex.SubmitFlowRun, epb.SubmitFlowRunRequest(deployment_name=refused.name))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
        assert str(REPO) in error.details(), error.details()  # the allowlist in force
        run_id = create_scheduled_run(orch, f"{path}:hello")
        assert wait_final(own, orch, run_id).state.type == FAILED, own.logs()
        assert not marker.exists()
    finally:
        own.stop()
