"""A PolicyContext made of dicts and a hand-driven clock, and helpers to put runs in a state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from orchestrator.core.context import Effects, PolicySettings
from orchestrator.core.models import (
    CacheEntry,
    ConcurrencyLimit,
    FlowRun,
    Proposal,
    ResultKind,
    ResultRef,
    State,
    StateDetails,
    StateType,
    TaskRun,
)
from orchestrator.core.policy import propose_flow_state, propose_task_state

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)
ST = StateType


class FakeContext:
    def __init__(self, settings: PolicySettings | None = None) -> None:
        self.settings = settings or PolicySettings()
        self.clock = T0
        self.flow_runs: dict[str, FlowRun] = {}
        self.cache: dict[str, list[CacheEntry]] = {}
        self.limits: dict[str, ConcurrencyLimit] = {}

    # -- PolicyContext ----------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock

    def read_flow_run(self, flow_run_id: str) -> FlowRun | None:
        return self.flow_runs.get(flow_run_id)

    def lookup_cache(self, cache_key: str, now: datetime) -> State | None:
        live = [e for e in self.cache.get(cache_key, []) if e.expiration is None or e.expiration > now]
        return live[-1].state if live else None

    def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit | None:
        return self.limits.get(tag)

    # -- test helpers -----------------------------------------------------------------------
    def tick(self, seconds: float) -> None:
        self.clock += timedelta(seconds=seconds)

    def add_limit(self, tag: str, limit: int) -> ConcurrencyLimit:
        self.limits[tag] = ConcurrencyLimit(tag, limit)
        return self.limits[tag]

    def commit(self, effects: Effects) -> None:
        for entry in effects.cache_inserts:
            self.cache.setdefault(entry.key, []).append(entry)


@pytest.fixture
def ctx() -> FakeContext:
    return FakeContext()


def state(type_: StateType, name: str = "", message: str = "", data: ResultKind | None = None,
          **details) -> State:
    return State(
        type_,
        name=name,
        message=message,
        data=ResultRef(kind=data) if data is not None else ResultRef(),
        details=StateDetails(**details),
    )


def _as_state(target) -> State:
    return target if isinstance(target, State) else state(target)


def flow_in(ctx: FakeContext, target=None, **fields) -> FlowRun:
    """A flow run known to the context, placed directly in `target` (no policy involved)."""
    run = FlowRun(**fields)
    if target is not None:
        run.state = _as_state(target)
        run.state.timestamp = ctx.clock
        run.state.details.flow_run_id = run.id
    ctx.flow_runs[run.id] = run
    return run


def task_in(ctx: FakeContext, target=None, flow=ST.RUNNING, **fields) -> TaskRun:
    """A task run placed directly in `target`, whose flow run is in `flow` (a type or a run)."""
    flow_run = flow if isinstance(flow, FlowRun) else flow_in(ctx, flow)
    run = TaskRun(flow_run_id=flow_run.id, **fields)
    if target is not None:
        run.state = _as_state(target)
        run.state.timestamp = ctx.clock
    return run


def propose(ctx: FakeContext, run, target, force: bool = False, expected_state_id: str = ""):
    """Propose `target` (a type or a State) through the right door; commits cache effects."""
    door = propose_flow_state if isinstance(run, FlowRun) else propose_task_state
    decision, effects = door(run, Proposal(_as_state(target), force, expected_state_id), ctx)
    ctx.commit(effects)
    return decision, effects


def walk(ctx: FakeContext, run, *targets):
    """Propose each target in turn; returns the last decision."""
    decision = None
    for target in targets:
        decision, _ = propose(ctx, run, target)
    return decision
