"""The core is fed data: it asks for what the rules on an edge need, and takes its time, ids
and random draws from what it is given."""

from __future__ import annotations

import itertools
from datetime import timedelta

from orchestrator.core.inputs import NEEDS_CACHE, NEEDS_FLOW_RUN, NEEDS_LIMITS, DecisionInputs
from orchestrator.core.models import Proposal, State, StateType
from orchestrator.core.policy import decide, needs_for

from .conftest import ST, flow_in, propose, state, task_in


def test_what_each_edge_asks_to_be_gathered(ctx):
    run = task_in(ctx, ST.PENDING)
    assert needs_for("task", run, Proposal(State(ST.RUNNING))) == {NEEDS_FLOW_RUN, NEEDS_LIMITS, NEEDS_CACHE}
    assert needs_for("task", run, Proposal(State(ST.FAILED))) == {NEEDS_LIMITS}
    flow = flow_in(ctx, ST.RUNNING)
    assert needs_for("flow", flow, Proposal(State(ST.COMPLETED))) == frozenset()
    # An edge the lifecycle refuses is decided without looking anything up.
    done = flow_in(ctx, ST.CANCELLING)
    assert needs_for("flow", done, Proposal(State(ST.RUNNING))) == frozenset()


def test_a_task_whose_flow_run_was_not_gathered_may_not_start(ctx):
    run = task_in(ctx, ST.PENDING)
    proposal = Proposal(State(ST.RUNNING))
    decision, _ = decide("task", run, proposal, DecisionInputs(now=ctx.clock), ctx.settings)
    assert decision.status.value == "ABORT"


def test_states_the_decision_creates_take_the_given_ids_and_time(ctx):
    ids = (f"id-{n}" for n in itertools.count())
    run = task_in(ctx, ST.PENDING)
    run.empirical_policy.retries = 1
    propose(ctx, run, ST.RUNNING)
    proposal = Proposal(state(ST.FAILED))
    later = ctx.clock + timedelta(minutes=1)
    inputs = DecisionInputs(now=later, new_id=lambda: next(ids))
    decision, _ = decide("task", run, proposal, inputs, ctx.settings)
    assert decision.state.name == "AwaitingRetry"
    assert (decision.state.id, decision.state.timestamp) == ("id-0", later)


def test_a_cache_hit_is_what_was_gathered(ctx):
    flow = flow_in(ctx, ST.RUNNING)
    run = task_in(ctx, ST.PENDING, flow=flow)
    cached = State(StateType.COMPLETED, message="from the cache")
    proposal = Proposal(state(ST.RUNNING, cache_key="k"))
    inputs = DecisionInputs(now=ctx.clock, flow_run=flow, cached=cached, new_id=lambda: "copy")
    decision, _ = decide("task", run, proposal, inputs, ctx.settings)
    assert decision.state.name == "Cached" and decision.state.message == "from the cache"
    assert decision.state.id == "copy"


class _NoClock:
    @staticmethod
    def now(*args):
        raise AssertionError("the core read the clock")


def test_decisions_read_no_clock_and_draw_no_ids_of_their_own(ctx, monkeypatch):
    from orchestrator.core import models

    flow = flow_in(ctx, ST.RUNNING, deployment_id="dep")
    child = flow_in(ctx, ST.PENDING, parent_task_run_id="tracker")
    cached_run, retried, limited = (task_in(ctx, ST.PENDING, flow=flow) for _ in range(3))
    retried.empirical_policy.retries = 2
    retried.empirical_policy.retry_jitter_factor = 0.5
    retried.empirical_policy.retry_delay_seconds = [10]
    limited.tags = ["db"]
    ctx.add_limit("db", 1)
    proposals = [state(t) for t in (ST.RUNNING, ST.COMPLETED, ST.RUNNING, ST.FAILED, ST.RUNNING)]
    with_key = [
        state(ST.RUNNING, cache_key="k"),
        state(ST.COMPLETED, cache_key="k"),
        state(ST.RUNNING, cache_key="k"),
    ]
    pause, running = state(ST.PAUSED), state(ST.RUNNING)
    other = task_in(ctx, None, flow=flow)

    monkeypatch.setattr("uuid.uuid4", lambda: (_ for _ in ()).throw(AssertionError("uuid4 called")))
    monkeypatch.setattr(models, "datetime", _NoClock)
    propose(ctx, child, running)  # mirrored onto its tracker: a new state
    for target in with_key[:2]:
        propose(ctx, cached_run, target)
    other.state = cached_run.state  # a second run of the same key is served from the cache
    decision, _ = propose(ctx, other, with_key[2])
    assert decision.state.name == "Cached"
    for target in proposals[:4]:
        propose(ctx, retried if target.type is not ST.COMPLETED else limited, target)
    assert retried.state.name == "AwaitingRetry"
    assert propose(ctx, flow, pause)[0].state.type is ST.PAUSED
