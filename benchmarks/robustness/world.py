"""What the fuzzer aims at, made through the contract before it starts: flow runs in several
states with task runs, a deployment the executor can really run, a concurrency limit, a page
token. And a sentinel: a finished run with a task run, a deployment and a limit whose ids the
fuzzer is never given, read back after the fuzzing to show the store kept them as they were."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import grpc

from cadenza.v1 import executor_pb2 as epb
from cadenza.v1 import executor_pb2_grpc as epb_grpc
from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from cadenza.v1 import states_pb2 as spb

from .flows import MODULE
from .messages import IdPool

FLOWS_FILE = Path(__file__).resolve().with_name("flows.py")
TIMEOUT = 10.0
FLOW, TASK = pb.RUN_KIND_FLOW, pb.RUN_KIND_TASK


def _state(state_type: spb.StateType.ValueType, **details) -> spb.State:
    st = spb.State(type=state_type)
    for name, value in details.items():
        if name == "pause_timeout":
            st.details.pause_timeout.FromSeconds(int(value))
        else:
            setattr(st.details, name, value)
    return st


class _Maker:
    """Runs and states through the orchestrator, each id noted in `ids` (unless for the sentinel)."""

    def __init__(self, orch: pb_grpc.OrchestratorStub, ids: IdPool | None) -> None:
        self.orch = orch
        self.ids = ids

    def note(self, kind: str, value: str) -> str:
        if self.ids is not None:
            self.ids.add(kind, value)
        return value

    def flow_run(self, *steps: spb.State, name: str = "fuzz", holder: str = "") -> str:
        # A holder (a process renewing the run's lease) lets a run stay Cancelling; one that no
        # process holds is cancelled at once.
        request = pb.CreateFlowRunRequest(
            flow_name=name, worker_id=holder, lease_seconds=3600 if holder else 0
        )
        made = self.orch.CreateFlowRun(request, timeout=TIMEOUT).flow_run
        self.note("state", made.state.id)
        for st in steps:
            self.propose(FLOW, made.id, st)
        return self.note("flow_run", made.id)

    def task_run(self, flow_run_id: str, key: str, *steps: spb.State) -> str:
        request = pb.CreateTaskRunRequest(
            flow_run_id=flow_run_id, task_key=key, next_state=_state(spb.STATE_TYPE_RUNNING)
        )
        made = self.orch.CreateTaskRun(request, timeout=TIMEOUT)
        self.note("state", made.next_state_result.state.id)
        for st in steps:
            self.propose(TASK, made.task_run.id, st)
        return self.note("task_run", made.task_run.id)

    def propose(self, kind: pb.RunKind.ValueType, run_id: str, st: spb.State) -> None:
        request = pb.ProposeStateRequest(run_kind=kind, run_id=run_id, state=st)
        answer = self.orch.ProposeState(request, timeout=TIMEOUT)
        if answer.status != pb.PROPOSAL_STATUS_ACCEPT:
            raise RuntimeError(f"setting up {run_id}: {answer.reason or answer}")
        self.note("state", answer.state.id)


def build_targets(orch_address: str, executor_address: str) -> IdPool:
    """Real objects of every kind the requests name, and their ids."""
    ids = IdPool()
    with grpc.insecure_channel(orch_address) as och, grpc.insecure_channel(executor_address) as ech:
        orch = pb_grpc.OrchestratorStub(och)
        make = _Maker(orch, ids)
        running, completed = _state(spb.STATE_TYPE_RUNNING), _state(spb.STATE_TYPE_COMPLETED)
        make.flow_run()  # Pending
        busy = make.flow_run(running)
        make.task_run(busy, "open")
        make.task_run(busy, "done", completed)
        make.flow_run(
            running, _state(spb.STATE_TYPE_PAUSED, pause_key="fuzz", pause_timeout=time.time() + 3600)
        )
        make.flow_run(running, completed)
        make.flow_run(_state(spb.STATE_TYPE_CANCELLING), holder="fuzz-holder")
        deployment = orch.CreateDeployment(
            pb.CreateDeploymentRequest(
                name="fuzz-quick", flow_name="quick", entrypoint=f"{FLOWS_FILE}:quick", parameters_json="{}"
            ),
            timeout=TIMEOUT,
        ).deployment
        make.note("deployment_id", deployment.id)
        make.note("deployment_name", deployment.name)
        make.note("entrypoint", f"{MODULE}:quick")
        orch.CreateConcurrencyLimit(
            pb.CreateConcurrencyLimitRequest(tag="fuzz-tag", concurrency_limit=1), timeout=TIMEOUT
        )
        make.note("tag", "fuzz-tag")
        make.note("worker", "fuzz-worker")
        page = orch.ListFlowRuns(pb.ListFlowRunsRequest(page_size=1), timeout=TIMEOUT)
        make.note("page_token", page.next_page_token)
        # A run the executor really starts, so its reads and watches find one of its own.
        submitted = epb_grpc.ExecutorStub(ech).SubmitFlowRun(
            epb.SubmitFlowRunRequest(deployment_name=deployment.name), timeout=TIMEOUT
        )
        make.note("flow_run", submitted.flow_run_id)
    return ids


@dataclass
class Sentinel:
    flow_run_id: str
    task_run_id: str
    deployment_name: str
    tag: str


def make_sentinel(orch: pb_grpc.OrchestratorStub) -> Sentinel:
    make = _Maker(orch, None)
    running, completed = _state(spb.STATE_TYPE_RUNNING), _state(spb.STATE_TYPE_COMPLETED)
    flow_run_id = make.flow_run(running, name="sentinel")
    task_run_id = make.task_run(flow_run_id, "sentinel-task", completed)
    make.propose(FLOW, flow_run_id, completed)
    deployment = pb.CreateDeploymentRequest(
        name="sentinel-deployment", flow_name="sentinel", entrypoint=f"{FLOWS_FILE}:quick"
    )
    orch.CreateDeployment(deployment, timeout=TIMEOUT)
    orch.CreateConcurrencyLimit(
        pb.CreateConcurrencyLimitRequest(tag="sentinel-tag", concurrency_limit=3), timeout=TIMEOUT
    )
    return Sentinel(flow_run_id, task_run_id, deployment.name, "sentinel-tag")


def read_sentinel(orch: pb_grpc.OrchestratorStub, s: Sentinel) -> dict[str, bytes]:
    """Everything stored about the sentinel, as deterministic bytes to compare."""
    answers = {
        "flow run": orch.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=s.flow_run_id), timeout=TIMEOUT),
        "flow run states": orch.ReadStates(
            pb.ReadStatesRequest(run_kind=FLOW, run_id=s.flow_run_id), timeout=TIMEOUT
        ),
        "task run": orch.ReadTaskRun(pb.ReadTaskRunRequest(task_run_id=s.task_run_id), timeout=TIMEOUT),
        "task run states": orch.ReadStates(
            pb.ReadStatesRequest(run_kind=TASK, run_id=s.task_run_id), timeout=TIMEOUT
        ),
        "deployment": orch.ReadDeployment(pb.ReadDeploymentRequest(name=s.deployment_name), timeout=TIMEOUT),
        "concurrency limit": orch.ReadConcurrencyLimit(
            pb.ReadConcurrencyLimitRequest(tag=s.tag), timeout=TIMEOUT
        ),
    }
    return {what: answer.SerializeToString(deterministic=True) for what, answer in answers.items()}
