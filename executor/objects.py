"""Plain records of what the orchestrator holds (runs, limits, log lines) and of its answers,
as the engine and its users see them (Prefect 2's `client.schemas.objects`). No protobuf here:
the wire layer converts to and from these."""

from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass, field

from executor.states import State, StateType


class _HasState:
    """`state_type` and `state_name` of a run, as Prefect's run objects have them."""

    state: State | None

    @property
    def state_type(self) -> StateType | None:
        return self.state.type if self.state else None

    @property
    def state_name(self) -> str | None:
        return self.state.name if self.state else None


@dataclass
class FlowRun(_HasState):
    id: str
    name: str = ""
    flow_name: str = ""
    flow_version: str | None = None
    parameters: dict = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    parent_task_run_id: str | None = None
    deployment_id: str | None = None
    state: State | None = None
    run_count: int = 0
    start_time: _dt.datetime | None = None
    end_time: _dt.datetime | None = None
    total_run_time: float = 0.0
    expected_start_time: _dt.datetime | None = None
    next_scheduled_start_time: _dt.datetime | None = None
    created: _dt.datetime | None = None
    empirical_policy: dict = field(default_factory=dict)
    idempotency_key: str | None = None
    estimated_run_time: float = 0.0
    entrypoint: str | None = None  # where a worker loads the flow from (deployed runs)
    lease_epoch: int = 0  # the current claim's fencing token (0: never claimed)
    lease_expiration: _dt.datetime | None = None  # when the current claim lapses unless renewed


@dataclass
class TaskInput:
    input_type: str
    id: str


@dataclass
class TaskRun(_HasState):
    id: str
    name: str = ""
    flow_run_id: str | None = None
    task_key: str = ""
    dynamic_key: str = ""
    task_version: str | None = None
    tags: list[str] = field(default_factory=list)
    task_inputs: dict = field(default_factory=dict)
    empirical_policy: dict = field(default_factory=dict)
    state: State | None = None
    run_count: int = 0
    flow_run_run_count: int = 0
    start_time: _dt.datetime | None = None
    end_time: _dt.datetime | None = None
    total_run_time: float = 0.0
    expected_start_time: _dt.datetime | None = None
    created: _dt.datetime | None = None
    estimated_run_time: float = 0.0


@dataclass
class ConcurrencyLimit:
    id: str
    tag: str
    concurrency_limit: int
    active_slots: list[str] = field(default_factory=list)
    created: _dt.datetime | None = None


@dataclass
class LogEntry:
    flow_run_id: str | None
    task_run_id: str | None
    name: str
    level: int
    message: str
    timestamp: _dt.datetime | None


class ProposalStatus(enum.StrEnum):
    """The orchestrator's decision on a proposed state (equal to its name as a string)."""

    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    WAIT = "WAIT"
    ABORT = "ABORT"
    UNSPECIFIED = "UNSPECIFIED"


@dataclass
class OrchestrationResult:
    """The answer to a proposed state. ACCEPT: `state` is the stored state. REJECT: the state
    the run must take instead. WAIT: propose again after `delay_seconds`. ABORT: stop working
    on the run (`reason` says why)."""

    status: ProposalStatus
    state: State | None
    reason: str = ""
    delay_seconds: float = 0.0
    run_count: int = 0
