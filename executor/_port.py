"""The engine's port to the orchestrator: what the engine asks of it, in plain Python.

The engine (flow and task runs, pauses, run logs, the client facade) speaks only to an
`OrchestratorPort`. `executor._wire.GrpcPort` implements it over gRPC (the ProposeStates stream
for creations and proposals, unary calls for the rest); a test can implement it in memory.
Every method is a coroutine run on the engine loop. Errors are plain: `ObjectNotFound` when the
orchestrator has no such object, `OrchestratorError` (code name and message) otherwise.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from executor.objects import (
    ConcurrencyLimit,
    FlowRun,
    LogEntry,
    OrchestrationResult,
    ProposalStatus,
    TaskRun,
)
from executor.states import State, StateType

__all__ = [
    "ACCEPT",
    "REJECT",
    "WAIT",
    "ABORT",
    "RunKind",
    "TaskRunSpec",
    "FlowRunSpec",
    "TaskRunCreated",
    "FlowRunCreated",
    "OrchestratorPort",
    "OrchestrationResult",
    "ProposalStatus",
]

ACCEPT = ProposalStatus.ACCEPT
REJECT = ProposalStatus.REJECT
WAIT = ProposalStatus.WAIT
ABORT = ProposalStatus.ABORT


class RunKind(enum.StrEnum):
    FLOW = "flow"
    TASK = "task"


@dataclass(slots=True)
class TaskRunSpec:
    """A task run to create, with its first state and, optionally, the state to propose right
    after creation (answered in the same round trip)."""

    flow_run_id: str
    task_key: str
    dynamic_key: str
    name: str
    task_version: str = ""
    tags: list[str] = field(default_factory=list)
    # Upstream task run ids per parameter name (and under "wait_for"); every parameter is listed.
    task_inputs: dict[str, list[str]] = field(default_factory=dict)
    retries: int = 0
    retry_delays: list[float] = field(default_factory=list)
    retry_jitter_factor: float | None = None
    state: State | None = None  # None: Pending
    next_state: State | None = None
    transition_id: str | None = None  # of next_state


@dataclass(slots=True)
class FlowRunSpec:
    """A flow run to create; `next_state` as for TaskRunSpec."""

    flow_name: str
    name: str
    flow_version: str = ""
    parameters_json: str = "{}"
    tags: list[str] = field(default_factory=list)
    parent_task_run_id: str | None = None
    idempotency_key: str | None = None  # a repeated create with the same key returns the first run
    retries: int = 0
    retry_delay_seconds: float = 0.0
    state: State | None = None  # None: Pending
    next_state: State | None = None
    transition_id: str | None = None  # of next_state
    # The process that drives the run holds it (see heartbeat); "" for a subflow, which its
    # parent's process drives.
    holder_id: str = ""
    lease_seconds: float = 0.0


@dataclass(slots=True)
class TaskRunCreated:
    id: str
    created: bool  # False when a run with the same flow run, task key and dynamic key existed
    # The run's state when no next state was proposed (the answer says it otherwise).
    state: State | None = None
    answer: OrchestrationResult | None = None  # to next_state, when one was proposed


@dataclass(slots=True)
class FlowRunCreated:
    flow_run: FlowRun
    created: bool
    answer: OrchestrationResult | None = None  # to next_state, when one was proposed


class OrchestratorPort(Protocol):
    # The lease epoch of the claim this process works under (0: none). Every creation and
    # proposal carries it; once the claim is taken away, they are refused.
    lease_epoch: int

    # -- creating runs and proposing states (the hot path) ------------------------------------
    async def create_task_run(self, spec: TaskRunSpec) -> TaskRunCreated:
        """Create (or find) a task run; on ACCEPT of `spec.next_state`, that very object has
        taken the orchestrator's stamps (as with propose_state)."""

    async def create_flow_run(self, spec: FlowRunSpec) -> FlowRunCreated: ...

    async def propose_state(
        self,
        kind: RunKind,
        run_id: str,
        state: State,
        *,
        force: bool = False,
        transition_id: str | None = None,
    ) -> OrchestrationResult:
        """Propose `state` for a run. On ACCEPT the answer's state is `state` itself, stamped
        with what the orchestrator stored (id, name, timestamp, details): the engine keeps its
        object and the value in memory. A repeated transition id gets the first answer again."""

    # -- reading runs -------------------------------------------------------------------------
    async def read_flow_run(self, flow_run_id: str) -> FlowRun: ...

    async def read_flow_runs(
        self,
        *,
        parent_task_run_id: str | None = None,
        flow_name: str | None = None,
        tags: Iterable[str] | None = None,
        state_types: Iterable[StateType] | None = None,
        deployment_id: str | None = None,
        limit: int | None = None,
    ) -> list[FlowRun]: ...

    async def read_task_run(self, task_run_id: str) -> TaskRun: ...

    async def read_task_runs(
        self,
        *,
        flow_run_id: str | None = None,
        tags: Iterable[str] | None = None,
        state_types: Iterable[StateType] | None = None,
        limit: int | None = None,
    ) -> list[TaskRun]: ...

    async def read_states(self, kind: RunKind, run_id: str) -> list[State]: ...

    async def read_run_input(self, flow_run_id: str) -> Any:
        """The input handed over with the resume of a paused flow run (parsed JSON), or None."""

    # -- changing flow runs from outside the proposal loop ------------------------------------
    async def update_flow_run(
        self, flow_run_id: str, *, flow_version: str, retries: int, retry_delay_seconds: float
    ) -> None:
        """Record the flow's version and retry policy (where the run's own are unset)."""

    async def set_flow_run_state(
        self, flow_run_id: str, state: State, force: bool = False
    ) -> OrchestrationResult:
        """Propose a state from outside the run; the answer's state is a new object."""

    async def resume_flow_run(self, flow_run_id: str, run_input: Any = None) -> OrchestrationResult: ...

    async def heartbeat(
        self, holder_id: str, flow_run_ids: list[str], lease_seconds: float
    ) -> tuple[list[str], list[str]]:
        """Renew the lease of runs this process holds; returns (runs asked to cancel, runs this
        process no longer holds)."""

    # -- logs and concurrency limits ----------------------------------------------------------
    async def write_logs(self, entries: list[LogEntry]) -> None: ...

    async def read_logs(
        self, flow_run_id: str | None = None, task_run_id: str | None = None
    ) -> list[LogEntry]: ...

    async def create_concurrency_limit(self, tag: str, concurrency_limit: int) -> str:
        """Create or update the limit of a tag; returns its id."""

    async def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit: ...

    async def read_concurrency_limits(self) -> list[ConcurrencyLimit]: ...

    async def delete_concurrency_limit(self, tag: str) -> None: ...

    async def close(self) -> None:
        """Stop: requests still waiting fail, later ones raise."""
