"""The storage interface the orchestrator needs, and the batch of writes it commits at once."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ..core.models import CacheEntry, ConcurrencyLimit, Deployment, FlowRun, State, TaskRun
from . import codec

NOTE_BYTES = 7900  # PostgreSQL's NOTIFY payload is under 8000 bytes


def new_version() -> int:
    """A row version no one else will write: random, not counted, since two replicas counting
    from the same version would write the same number, and a change built on one of theirs
    that failed would pass for built on the other's."""
    return int.from_bytes(os.urandom(8)) >> 2 or 1


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
    version: int  # the row's version once written (see new_version)
    prior: int  # the version it was read at, which the stored row must still have (0: new)


@dataclass(slots=True)
class TaskRunRow:
    id: str
    flow_run_id: str
    task_key: str
    dynamic_key: str
    state_type: str
    idempotency_key: str | None
    doc: str
    version: int  # as FlowRunRow
    prior: int


@dataclass(slots=True)
class WriteBatch:
    """Writes that must become durable together (one decision, or one create).

    Documents are serialised when added, so later in-memory changes to the same objects
    cannot leak into an earlier batch. A run or limit put in a batch takes a new version at
    once (one per batch), so a later batch on the same object expects that version. A store
    shared by several orchestrators writes a row only over the version it was read at and
    checks the versions of `reads`, refusing the batch with StoreConflict otherwise; a store
    with one writer has nothing to check.
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
    limit_versions: dict[str, tuple[int, int]] = field(default_factory=dict)  # tag -> (prior, new)
    # Rows the decision read but does not write, as (kind, id, version): "flow", "task", "limit".
    reads: list[tuple[str, str, int]] = field(default_factory=list)
    # What other orchestrators sharing the store are told once the batch is durable (opaque
    # text, at most NOTE_BYTES each); a store with one writer drops them.
    notes: list[str] = field(default_factory=list)

    def put_flow_run(self, run: FlowRun) -> None:
        held = self.flow_runs.get(run.id)
        prior = held.prior if held is not None else run.version
        if held is None:
            run.version = new_version()
        self.flow_runs[run.id] = FlowRunRow(
            run.id,
            run.flow_name,
            run.state.type.value if run.state else "",
            run.parent_task_run_id,
            run.deployment_id,
            run.idempotency_key or None,
            list(run.tags),
            codec.flow_run_to_doc(run),
            run.version,
            prior,
        )

    def put_task_run(self, run: TaskRun) -> None:
        held = self.task_runs.get(run.id)
        prior = held.prior if held is not None else run.version
        if held is None:
            run.version = new_version()
        self.task_runs[run.id] = TaskRunRow(
            run.id,
            run.flow_run_id,
            run.task_key,
            run.dynamic_key,
            run.state.type.value if run.state else "",
            run.idempotency_key or None,
            codec.task_run_to_doc(run),
            run.version,
            prior,
        )

    def add_state(self, run_kind: str, run_id: str, state: State) -> None:
        self.states.append((run_kind, run_id, state.id, codec.dumps_state(state)))

    def put_limit(self, limit: ConcurrencyLimit) -> None:
        held = self.limit_versions.get(limit.tag)
        if held is None:
            held = (limit.version, new_version())
            limit.version = held[1]
        self.limits[limit.tag] = codec.limit_to_doc(limit)
        self.limit_versions[limit.tag] = held

    def read(self, kind: str, key: str, version: int) -> None:
        """The decision relied on this row as read at `version` (written rows need not be named)."""
        self.reads.append((kind, key, version))

    def delete_limit(self, tag: str) -> None:
        self.limits[tag] = None
        self.limit_versions.pop(tag, None)

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


class SharedStore(Store, Protocol):
    """A store several orchestrators serve at once (`shared = True`): it checks versions on
    write and carries each one's notes to the others."""

    shared: bool

    def limits_on(self, tags: list[str]) -> list[ConcurrencyLimit]: ...
    def current_versions(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]: ...
    def leads_background(self) -> bool: ...
    def other_listeners(self) -> int: ...
    def announce(self, note: str) -> None: ...
    async def listen(self, on_note: Callable[[str], None], on_gap: Callable[[], None]) -> None: ...
