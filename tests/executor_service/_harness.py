"""Both services as real subprocesses, and small helpers that speak only the gRPC contract.

`Cluster` is one orchestrator plus any number of executors wired to it, each started with
`python -m <service> serve --host 127.0.0.1 --port 0` (see tests/clients/_services.py), in
their own process groups so that a stop also reaps flow-run children they leave behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from cadenza.v1 import executor_pb2 as epb
from cadenza.v1 import executor_pb2_grpc as epb_grpc
from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from cadenza.v1 import states_pb2 as spb
from tests.clients._services import REPO, ServiceProcess, service_env, start_service, tail
from tests.processes import pid_alive as pid_alive  # re-exported for the tests here

FLOWS_FILE = Path(__file__).resolve().parent / "flows.py"
BROKEN_FILE = Path(__file__).resolve().parent / "broken_flows.py"
MODULE = "tests.executor_service.flows"
CADENZA = str(Path(sys.executable).with_name("cadenza"))
RPC_TIMEOUT = 10.0

SCHEDULED = spb.STATE_TYPE_SCHEDULED
PENDING = spb.STATE_TYPE_PENDING
RUNNING = spb.STATE_TYPE_RUNNING
COMPLETED = spb.STATE_TYPE_COMPLETED
FAILED = spb.STATE_TYPE_FAILED
CRASHED = spb.STATE_TYPE_CRASHED
CANCELLING = spb.STATE_TYPE_CANCELLING
CANCELLED = spb.STATE_TYPE_CANCELLED
PAUSED = spb.STATE_TYPE_PAUSED
FINAL = {COMPLETED, FAILED, CRASHED, CANCELLED}

# Every service these tests start: short leases and grace, so faults show within a second.
BASE_ENV = {
    "CADENZA_LEASE_SECONDS": "2",
    "CADENZA_CANCEL_GRACE_SECONDS": "1",
    "CADENZA_EXECUTOR_MAX_RUNS": "8",
    # Submits name modules of tests.executor_service; deployments name its files.
    "CADENZA_ALLOWED_ENTRYPOINTS": f"tests.executor_service,{FLOWS_FILE.parent}",
}


def tname(state_type: int) -> str:
    return spb.StateType.Name(state_type).removeprefix("STATE_TYPE_")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def flows_entrypoint(name: str) -> str:
    return f"{FLOWS_FILE}:{name}"


def module_entrypoint(name: str) -> str:
    return f"{MODULE}:{name}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Cluster:
    home: Path
    env: dict[str, str]
    orchestrator: ServiceProcess
    executors: list[ServiceProcess] = field(default_factory=list)
    token: str = ""
    _channels: list[grpc.Channel] = field(default_factory=list)

    # -- processes -----------------------------------------------------------------------
    @classmethod
    def start(
        cls, home: Path, executors: int = 1, orchestrator_env: dict | None = None, **env: str
    ) -> Cluster:
        home.mkdir(parents=True, exist_ok=True)
        merged = {**BASE_ENV, **env}
        orch = start_service(
            "orchestrator",
            ["--host", "127.0.0.1", "--port", "0", "--db", str(home / "o.db")],
            service_env(CADENZA_HOME=str(home), **merged, **(orchestrator_env or {})),
            home / "orchestrator.log",
        )
        cluster = cls(home, merged, orch, token=env.get("CADENZA_API_TOKEN", ""))
        try:
            for _ in range(executors):
                cluster.add_executor()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def add_executor(self, **env: str) -> ServiceProcess:
        index = len(self.executors)
        process = start_service(
            "executor",
            ["--host", "127.0.0.1", "--port", "0", "--orchestrator", self.orchestrator.address],
            service_env(CADENZA_HOME=str(self.home), **{**self.env, **env}),
            self.home / f"executor{index}.log",
        )
        self.executors.append(process)
        return process

    def stop(self) -> None:
        for channel in self._channels:
            channel.close()
        for process in self.executors:
            process.stop()
        self.orchestrator.stop()

    def logs(self, lines: int = 30) -> str:
        parts = [f"--- orchestrator.log\n{tail(self.orchestrator.log_path, lines)}"]
        for process in self.executors:
            parts.append(f"--- {process.log_path.name}\n{tail(process.log_path, lines)}")
        return "\n".join(parts)

    # -- stubs -------------------------------------------------------------------------------
    def _channel(self, address: str) -> grpc.Channel:
        channel = grpc.insecure_channel(address)
        self._channels.append(channel)
        return channel

    @property
    def metadata(self) -> tuple:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    def orch(self) -> Calls:
        return Calls(pb_grpc.OrchestratorStub(self._channel(self.orchestrator.address)), self.metadata)

    def ex(self, index: int = 0) -> Calls:
        return Calls(epb_grpc.ExecutorStub(self._channel(self.executors[index].address)), self.metadata)

    def cli_env(self, **extra: str) -> dict[str, str]:
        env = service_env(CADENZA_ORCHESTRATOR=self.orchestrator.address, CADENZA_HOME=str(self.home))
        if self.executors:
            env["CADENZA_EXECUTOR"] = self.executors[0].address
        if self.token:
            env["CADENZA_API_TOKEN"] = self.token
        env.update(extra)
        return env


class Calls:
    """A stub whose unary calls carry the cluster's token and a deadline."""

    def __init__(self, stub, metadata: tuple) -> None:
        self.stub = stub
        self.metadata = metadata

    def __getattr__(self, name: str):
        method = getattr(self.stub, name)

        def call(request, **kw):
            kw.setdefault("metadata", self.metadata)
            kw.setdefault("timeout", RPC_TIMEOUT)
            return method(request, **kw)

        return call


# -- building blocks ---------------------------------------------------------------------------
def deploy(
    orch: Calls,
    flow_name: str,
    name: str | None = None,
    params: dict | None = None,
    entrypoint: str | None = None,
    **kw,
) -> pb.Deployment:
    request = pb.CreateDeploymentRequest(
        name=name or unique(flow_name),
        flow_name=flow_name,
        entrypoint=entrypoint or flows_entrypoint(flow_name),
        parameters_json=json.dumps(params or {}),
        **kw,
    )
    return orch.CreateDeployment(request).deployment


def submit(ex: Calls, *, deployment: str = "", entrypoint: str = "", params: dict | None = None, **kw) -> str:
    request = epb.SubmitFlowRunRequest(
        deployment_name=deployment, entrypoint=entrypoint, parameters_json=json.dumps(params or {}), **kw
    )
    return ex.SubmitFlowRun(request).flow_run_id


def read(orch: Calls, flow_run_id: str) -> pb.FlowRun:
    return orch.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=flow_run_id)).flow_run


def task_runs(orch: Calls, flow_run_id: str) -> list[pb.TaskRun]:
    return list(orch.ListTaskRuns(pb.ListTaskRunsRequest(flow_run_id=flow_run_id, page_size=1000)).task_runs)


def history(orch: Calls, flow_run_id: str) -> list[spb.State]:
    return list(orch.ReadStates(pb.ReadStatesRequest(run_kind=pb.RUN_KIND_FLOW, run_id=flow_run_id)).states)


def count_flow_runs(orch: Calls) -> int:
    return len(orch.ListFlowRuns(pb.ListFlowRunsRequest(page_size=1000)).flow_runs)


def wait_for(predicate, timeout: float, what: str, cluster: Cluster | None = None, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy; fail with `what` (and the logs) if not."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    logs = f"\n{cluster.logs()}" if cluster is not None else ""
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r}){logs}", pytrace=False)


def wait_state(
    cluster: Cluster, orch: Calls, flow_run_id: str, types, timeout: float = 8.0, name: str | None = None
) -> pb.FlowRun:
    """Wait until the flow run is in one of `types` (and has state `name`, if given)."""
    types = {types} if isinstance(types, int) else set(types)

    def ready():
        run = read(orch, flow_run_id)
        ok = run.state.type in types and (name is None or run.state.name == name)
        return run if ok else None

    want = "/".join(sorted(tname(t) for t in types)) + (f" named {name!r}" if name else "")
    run = wait_for(ready, timeout, f"flow run {flow_run_id} to be {want}", cluster)
    return run


def wait_final(cluster: Cluster, orch: Calls, flow_run_id: str, timeout: float = 8.0) -> pb.FlowRun:
    return wait_state(cluster, orch, flow_run_id, FINAL, timeout)


def rpc_error(call, *args, **kw) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kw)
    return info.value


def cli(cluster: Cluster, *argv: str, timeout: float = 30, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CADENZA, *argv],
        cwd=REPO,
        env=cluster.cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_file(path: Path, timeout: float, cluster: Cluster | None = None) -> str:
    return wait_for(
        lambda: path.exists() and path.read_text().strip(), timeout, f"{path} to be written", cluster
    )


def past(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)
