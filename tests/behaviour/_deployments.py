"""Deployed runs for the behaviour tests that need them (flow retries copied into the run,
parameters coerced, pauses that reschedule, SIGTERM to the run's process, manual retries,
scheduled times).

`deployments` starts a real executor service on the session's orchestrator (module scope);
`Deployments.run(source, flow, parameters)` writes `source` to a file, deploys its flow by that
file's path and creates a run from the deployment, which the executor's worker claims and runs
in a child process (`python -m executor.engine <id>`), as it would any deployed run.

`deployer` is the same without an executor: the test claims the run and starts that child
process itself (`run_as_worker`), so no other worker competes for the run's later states.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from executor.states import StateType
from tests.clients._services import ServiceProcess, service_env, start_service, tail

from ._util import wait_until

FINAL = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}


@dataclass
class Deployments:
    stub: pb_grpc.OrchestratorStub
    folder: Path
    env: dict[str, str]  # of the engine's child processes
    executor: ServiceProcess | None = None

    def deploy(self, source: str, flow: str, parameters: dict | None = None) -> pb.Deployment:
        path = self.folder / f"flows_{uuid.uuid4().hex[:10]}.py"
        path.write_text(textwrap.dedent(source))
        request = pb.CreateDeploymentRequest(
            name=f"{flow}-{path.stem}",
            flow_name=flow,
            entrypoint=f"{path}:{flow}",
            parameters_json=json.dumps(parameters or {}),
        )
        return self.stub.CreateDeployment(request, timeout=10).deployment

    def run(
        self, source: str, flow: str, parameters: dict | None = None, scheduled_time: datetime | None = None
    ) -> str:
        """A new run of the deployed flow; the executor claims it once it is due."""
        deployment = self.deploy(source, flow)
        request = pb.CreateFlowRunFromDeploymentRequest(
            deployment_id=deployment.id, parameters_json=json.dumps(parameters or {})
        )
        if scheduled_time is not None:
            stamp = Timestamp()
            stamp.FromDatetime(scheduled_time)
            request.scheduled_time.CopyFrom(stamp)
        return self.stub.CreateFlowRunFromDeployment(request, timeout=10).flow_run.id

    def run_as_worker(self, flow_run_id: str) -> subprocess.CompletedProcess:
        """Claim the run, as a worker does, and run it to its end in `python -m executor.engine`."""
        request = pb.ClaimFlowRunsRequest(
            worker_id=f"test-{uuid.uuid4().hex[:6]}", limit=1, lease_seconds=60, wait_seconds=5
        )
        claimed = self.stub.ClaimFlowRuns(request, timeout=10).flow_runs
        assert [run.id for run in claimed] == [flow_run_id]
        return subprocess.run(
            [sys.executable, "-m", "executor.engine", flow_run_id],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def wait_for(self, client, flow_run_id: str, types, timeout: float = 15.0):
        """The flow run once it is in one of `types` (the executor's log if it never is)."""
        run = wait_until(
            lambda: (r := client.read_flow_run(flow_run_id)).state.type in types and r,
            timeout=timeout,
            interval=0.05,
        )
        if not run:
            state = client.read_flow_run(flow_run_id).state
            log = tail(self.executor.log_path) if self.executor else ""
            pytest.fail(
                f"flow run {flow_run_id} is {state!r}, not one of {sorted(t.value for t in types)}; "
                f"executor log:\n{log}",
                pytrace=False,
            )
        return run

    def wait_final(self, client, flow_run_id: str, timeout: float = 15.0):
        return self.wait_for(client, flow_run_id, FINAL, timeout)


@contextlib.contextmanager
def _deployer(orchestrator, tmp_path_factory) -> Iterator[Deployments]:
    folder = tmp_path_factory.mktemp("deployed")
    # Results go where the tests look for them.
    env = service_env(
        CADENZA_HOME=str(orchestrator["home"]),
        CADENZA_ORCHESTRATOR=orchestrator["address"],
        CADENZA_ALLOWED_ENTRYPOINTS=str(folder),  # where the deployed flows are written
    )
    channel = grpc.insecure_channel(orchestrator["address"])
    try:
        yield Deployments(pb_grpc.OrchestratorStub(channel), folder, env)
    finally:
        channel.close()


@pytest.fixture(scope="module")
def deployer(orchestrator, tmp_path_factory):
    with _deployer(orchestrator, tmp_path_factory) as found:
        yield found


@pytest.fixture(scope="module")
def deployments(orchestrator, tmp_path_factory):
    with _deployer(orchestrator, tmp_path_factory) as found:
        found.executor = start_service(
            "executor", ["--host", "127.0.0.1", "--port", "0"], found.env, found.folder / "executor.log"
        )
        try:
            yield found
        finally:
            found.executor.stop()
