"""Plain Python records the core works on. Protobuf stays at the service edge."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime


def now_utc() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class StateType(str, enum.Enum):
    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLED = "CANCELLED"
    CANCELLING = "CANCELLING"
    PAUSED = "PAUSED"


TERMINAL_TYPES = frozenset({StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED})


class ResultKind(str, enum.Enum):
    NONE = "NONE"
    UNPERSISTED = "UNPERSISTED"
    PERSISTED = "PERSISTED"
    LITERAL = "LITERAL"


@dataclass(slots=True)
class ResultRef:
    kind: ResultKind = ResultKind.NONE
    storage_key: str = ""
    serializer: str = ""
    json: str | None = None


@dataclass(frozen=True, slots=True)
class ExceptionInfo:
    """What a run raised, as the engine described it: type, message and traceback text."""

    type: str = ""
    message: str = ""
    traceback: str = ""


@dataclass(slots=True)
class StateDetails:
    flow_run_id: str = ""
    task_run_id: str = ""
    child_flow_run_id: str = ""
    scheduled_time: datetime | None = None
    cache_key: str = ""
    cache_expiration: datetime | None = None
    refresh_cache: bool = False
    pause_timeout: datetime | None = None
    pause_reschedule: bool = False
    pause_key: str = ""
    retriable: bool | None = None
    transition_id: str = ""
    untrackable_result: bool = False


@dataclass(slots=True)
class State:
    type: StateType
    name: str = ""
    message: str = ""
    timestamp: datetime = field(default_factory=now_utc)
    data: ResultRef = field(default_factory=ResultRef)
    details: StateDetails = field(default_factory=StateDetails)
    id: str = field(default_factory=new_id)
    exception: ExceptionInfo | None = None  # frozen, so copies of the state may share it

    def __post_init__(self) -> None:
        if not self.name:
            self.name = self.type.value.title()

    def is_final(self) -> bool:
        return self.type in TERMINAL_TYPES

    def fresh_copy(self, id: str, timestamp: datetime, **changes) -> State:
        """A new state (the given id and timestamp) with the same content, e.g. for "Cached"."""
        changes.setdefault("details", replace(self.details))
        return replace(self, id=id, timestamp=timestamp, data=replace(self.data), **changes)


@dataclass(slots=True)
class FlowRunPolicy:
    retries: int = 0
    retry_delay_seconds: float = 0.0
    pause_keys: set[str] = field(default_factory=set)
    resuming: bool = False


@dataclass(slots=True)
class TaskRunPolicy:
    retries: int = 0
    retry_delay_seconds: list[float] = field(default_factory=list)
    retry_jitter_factor: float | None = None


@dataclass(slots=True)
class TaskInput:
    input_type: str  # "task_run", "parameter", "constant"
    id: str


@dataclass(slots=True)
class FlowRun:
    id: str = field(default_factory=new_id)
    name: str = ""
    flow_name: str = ""
    flow_version: str = ""
    parameters_json: str = "{}"
    tags: list[str] = field(default_factory=list)
    parent_task_run_id: str = ""
    deployment_id: str = ""
    idempotency_key: str = ""
    empirical_policy: FlowRunPolicy = field(default_factory=FlowRunPolicy)
    state: State | None = None
    run_count: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None
    total_run_time: float = 0.0
    expected_start_time: datetime | None = None
    next_scheduled_start_time: datetime | None = None
    created: datetime = field(default_factory=now_utc)
    entrypoint: str = ""
    worker_id: str = ""
    lease_expiration: datetime | None = None
    run_input_json: str = ""
    # The fencing token of the current claim: grows with every claim and when a lapsed lease
    # is taken away; proposals carrying an older one are refused.
    lease_epoch: int = 0
    # True when read back from the store rather than created by this process (not stored).
    loaded_from_store: bool = field(default=False, compare=False)
    # The row version this copy was read at (0: never stored). Replicas sharing a store check
    # it on write, so a change decided on a stale copy is refused and decided again.
    version: int = field(default=0, compare=False)

    kind = "flow"


@dataclass(slots=True)
class TaskRun:
    id: str = field(default_factory=new_id)
    name: str = ""
    flow_run_id: str = ""
    task_key: str = ""
    dynamic_key: str = ""
    task_version: str = ""
    tags: list[str] = field(default_factory=list)
    task_inputs: dict[str, list[TaskInput]] = field(default_factory=dict)
    idempotency_key: str = ""
    empirical_policy: TaskRunPolicy = field(default_factory=TaskRunPolicy)
    state: State | None = None
    run_count: int = 0
    flow_run_run_count: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None
    total_run_time: float = 0.0
    expected_start_time: datetime | None = None
    next_scheduled_start_time: datetime | None = None
    created: datetime = field(default_factory=now_utc)
    loaded_from_store: bool = field(default=False, compare=False)
    version: int = field(default=0, compare=False)  # as FlowRun.version

    kind = "task"


@dataclass(slots=True)
class SlotWaiter:
    """A task run queued for concurrency slots. One object is shared by the queues of all the
    run's tags, so the run holds one place in line everywhere and leaves every queue at once."""

    task_run_id: str
    seq: int  # place in line: every queue is kept in seq order, so all agree on who is first
    since: datetime
    last_seen: datetime
    waits: int = 0
    gone: bool = False  # dropped from one queue (stale or served): dropped from all


@dataclass(slots=True)
class ConcurrencyLimit:
    tag: str
    concurrency_limit: int
    active_slots: set[str] = field(default_factory=set)
    id: str = field(default_factory=new_id)
    created: datetime = field(default_factory=now_utc)
    # Fairness queue of runs waiting for a slot, oldest first. In memory only: never stored,
    # never compared; losing it on restart only costs the order of the next hand-overs.
    waiters: dict[str, SlotWaiter] = field(default_factory=dict, compare=False, repr=False)
    version: int = field(default=0, compare=False)  # as FlowRun.version


@dataclass(slots=True)
class Schedule:
    interval_seconds: float = 0.0
    cron: str = ""

    def __bool__(self) -> bool:
        return bool(self.interval_seconds or self.cron)


@dataclass(slots=True)
class Deployment:
    name: str
    flow_name: str
    entrypoint: str
    parameters_json: str = "{}"
    tags: list[str] = field(default_factory=list)
    schedule: Schedule = field(default_factory=Schedule)
    description: str = ""
    id: str = field(default_factory=new_id)
    created: datetime = field(default_factory=now_utc)


@dataclass(slots=True)
class CacheEntry:
    key: str
    expiration: datetime | None
    state: State


class Status(str, enum.Enum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    WAIT = "WAIT"
    ABORT = "ABORT"


@dataclass(slots=True)
class Proposal:
    """A request to move a run into `state`."""

    state: State
    force: bool = False
    expected_state_id: str = ""
    # The claim the proposing process works under (0: none); see FlowRun.lease_epoch.
    lease_epoch: int = 0


@dataclass(slots=True)
class Decision:
    """The answer to a proposal.

    ACCEPT: `state` is the validated state now current. REJECT: `state` is the state the caller
    must adopt; when a rule said "stay where you are" it is the run's current state and
    `nullified` is True. WAIT: `delay_seconds`, nothing changed. ABORT: nothing changed.
    """

    status: Status
    state: State | None
    reason: str = ""
    delay_seconds: float = 0.0
    nullified: bool = False

    @property
    def changed(self) -> bool:
        """True when the run moved to a new state that must be stored."""
        return self.status in (Status.ACCEPT, Status.REJECT) and not self.nullified
