"""The data a decision is fed, kept in dicts with a hand-driven clock (what the application
layer gathers in the service), and helpers to put runs in a state and propose."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.core.inputs import (
    NEEDS_CACHE,
    NEEDS_FLOW_RUN,
    NEEDS_LIMITS,
    DecisionInputs,
    Effects,
    PolicySettings,
)
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
from orchestrator.core.policy import decide, needs_for
from orchestrator.core.transition import Transition

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
ST = StateType


class FakeContext:
    def __init__(self, settings: PolicySettings | None = None) -> None:
        self.settings = settings or PolicySettings()
        self.clock = T0
        self.flow_runs: dict[str, FlowRun] = {}
        self.cache: dict[str, list[CacheEntry]] = {}
        self.limits: dict[str, ConcurrencyLimit] = {}
        self.draw = 0.5
        self.tickets = itertools.count(1)
        self.ids = (f"id-{n}" for n in itertools.count(1))
        self.gathered: list[frozenset[str]] = []  # what each decision asked for

    # -- gathering, as the application layer does --------------------------------------------
    def inputs_for(self, kind: str, run, proposal: Proposal) -> DecisionInputs:
        needs = needs_for(kind, run, proposal)
        self.gathered.append(needs)
        inputs = DecisionInputs(
            now=self.clock, draw=self.draw, ticket=next(self.tickets), new_id=lambda: next(self.ids)
        )
        if NEEDS_FLOW_RUN in needs and kind == "task":
            inputs.flow_run = self.flow_runs.get(run.flow_run_id)
        if NEEDS_LIMITS in needs:
            tags = dict.fromkeys(run.tags)
            inputs.limits = [self.limits[tag] for tag in tags if tag in self.limits]
        key = proposal.state.details.cache_key
        if NEEDS_CACHE in needs and key and not proposal.state.details.refresh_cache:
            inputs.cached = self.lookup_cache(key, self.clock)
        return inputs

    def lookup_cache(self, cache_key: str, now: datetime) -> State | None:
        live = [e for e in self.cache.get(cache_key, []) if e.expiration is None or e.expiration > now]
        return live[-1].state if live else None

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


def state(
    type_: StateType, name: str = "", message: str = "", data: ResultKind | None = None, **details
) -> State:
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
    """Propose `target` (a type or a State), fed what it needs; commits cache effects."""
    kind = "flow" if isinstance(run, FlowRun) else "task"
    proposal = Proposal(_as_state(target), force, expected_state_id)
    inputs = ctx.inputs_for(kind, run, proposal)
    decision, effects = decide(kind, run, proposal, inputs, ctx.settings)
    ctx.commit(effects)
    return decision, effects


def walk(ctx: FakeContext, run, *targets):
    """Propose each target in turn; returns the last decision."""
    decision = None
    for target in targets:
        decision, _ = propose(ctx, run, target)
    return decision


def transition(ctx: FakeContext, run, target) -> Transition:
    """A transition as a rule sees it, fed by the context, for calling one rule's hook."""
    kind = "flow" if isinstance(run, FlowRun) else "task"
    proposal = Proposal(_as_state(target))
    return Transition(run, proposal.state, ctx.inputs_for(kind, run, proposal), ctx.settings)
