"""The storage interface the orchestrator needs, and the batch of writes it commits at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ..core.models import CacheEntry, ConcurrencyLimit, Deployment, FlowRun, State, TaskRun
from . import codec


@dataclass(slots=True)
class FlowRunRow:
    id: str
    flow_name: str
    state_type: str
    parent_task_run_id: str
    deployment_id: str
    idempotency_key: str | None
    tags: list[str]
    doc: str


@dataclass(slots=True)
class TaskRunRow:
    id: str
    flow_run_id: str
    task_key: str
    dynamic_key: str
    state_type: str
    idempotency_key: str | None
    doc: str


@dataclass(slots=True)
class WriteBatch:
    """Writes that must become durable together (one decision, or one create).

    Documents are serialised when added, so later in-memory changes to the same objects
    cannot leak into an earlier batch.
    """

    flow_runs: dict[str, FlowRunRow] = field(default_factory=dict)
    task_runs: dict[str, TaskRunRow] = field(default_factory=dict)
    states: list[tuple[str, str, str, str]] = field(default_factory=list)  # kind, run, id, doc
    limits: dict[str, str | None] = field(default_factory=dict)  # tag -> doc, None = delete
    cache_entries: list[tuple[str, str | None, str]] = field(default_factory=list)
    # Transition ids answered by this batch; in memory only, forgotten if the commit fails.
    answered_transitions: list[str] = field(default_factory=list)
    logs: list[tuple[str, str, str]] = field(default_factory=list)  # flow run, task run, doc
    deployments: dict[str, tuple[str, str] | None] = field(default_factory=dict)  # id -> (name, doc)

    def put_flow_run(self, run: FlowRun) -> None:
        self.flow_runs[run.id] = FlowRunRow(
            run.id,
            run.flow_name,
            run.state.type.value if run.state else "",
            run.parent_task_run_id,
            run.deployment_id,
            run.idempotency_key or None,
            list(run.tags),
            codec.flow_run_to_doc(run),
        )

    def put_task_run(self, run: TaskRun) -> None:
        self.task_runs[run.id] = TaskRunRow(
            run.id,
            run.flow_run_id,
            run.task_key,
            run.dynamic_key,
            run.state.type.value if run.state else "",
            run.idempotency_key or None,
            codec.task_run_to_doc(run),
        )

    def add_state(self, run_kind: str, run_id: str, state: State) -> None:
        self.states.append((run_kind, run_id, state.id, codec.dumps_state(state)))

    def put_limit(self, limit: ConcurrencyLimit) -> None:
        self.limits[limit.tag] = codec.limit_to_doc(limit)

    def delete_limit(self, tag: str) -> None:
        self.limits[tag] = None

    def add_cache_entry(self, entry: CacheEntry) -> None:
        expiration = entry.expiration.isoformat() if entry.expiration else None
        self.cache_entries.append((entry.key, expiration, codec.dumps_state(entry.state)))

    def add_log(self, flow_run_id: str, task_run_id: str, doc: str) -> None:
        self.logs.append((flow_run_id, task_run_id, doc))

    def put_deployment(self, dep: Deployment) -> None:
        self.deployments[dep.id] = (dep.name, codec.deployment_to_doc(dep))

    def delete_deployment(self, deployment_id: str) -> None:
        self.deployments[deployment_id] = None

    def __bool__(self) -> bool:
        return bool(
            self.flow_runs
            or self.task_runs
            or self.states
            or self.limits
            or self.cache_entries
            or self.logs
            or self.deployments
        )


@dataclass(slots=True)
class Page:
    items: list
    next_token: str


@dataclass(slots=True)
class FlowRunFilter:
    state_types: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    parent_task_run_id: str = ""
    flow_name: str = ""
    deployment_id: str = ""


class Store(Protocol):
    def open(self) -> None:
        """Connect, check and migrate; raise StoreError with one line naming the database."""
        ...

    async def close(self) -> None:
        """Write what is still queued, then let go of the database."""
        ...

    async def commit(self, batch: WriteBatch) -> None:
        """Return once every write of the batch is durable; raise if it could not be."""
        ...

    async def flush(self) -> None:
        """Return once every batch committed so far is durable."""
        ...

    def get_flow_run(self, flow_run_id: str) -> FlowRun | None: ...
    def get_task_run(self, task_run_id: str) -> TaskRun | None: ...
    def find_flow_run_by_idempotency_key(self, key: str) -> FlowRun | None: ...
    def find_task_run(self, flow_run_id: str, task_key: str, dynamic_key: str) -> TaskRun | None: ...
    def find_task_run_by_idempotency_key(self, key: str) -> TaskRun | None: ...
    def list_flow_runs(self, flt: FlowRunFilter, page_size: int, page_token: str) -> Page: ...
    def list_task_runs(
        self, flow_run_id: str, state_types: list[str], page_size: int, page_token: str
    ) -> Page: ...
    def read_states(self, run_id: str) -> list[State]: ...
    def list_limits(self) -> list[ConcurrencyLimit]: ...
    def lookup_cache(self, key: str, now: datetime) -> State | None: ...
    def read_logs(self, flow_run_id: str, task_run_id: str, page_size: int, page_token: str) -> Page: ...
    def non_final_flow_runs(self) -> list[FlowRun]: ...
    def list_deployments(self) -> list[Deployment]: ...
