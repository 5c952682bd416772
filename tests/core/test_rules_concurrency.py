"""SecureTaskConcurrencySlots and ReleaseTaskConcurrencySlots: holding, releasing, cleanup."""

from __future__ import annotations

import copy
from datetime import timedelta

from orchestrator.core.models import Status

from .conftest import ST, flow_in, propose, state, task_in, walk


def test_slots_are_taken_and_handed_over(ctx):
    limit = ctx.add_limit("db", 1)
    one, two = task_in(ctx, ST.PENDING, tags=["db"]), task_in(ctx, ST.PENDING, tags=["db"])
    decision, effects = propose(ctx, one, ST.RUNNING)
    assert decision.status is Status.ACCEPT and limit.active_slots == {one.id}
    assert effects.touched_limits == {"db"}
    decision, effects = propose(ctx, two, ST.RUNNING)
    assert decision.status is Status.WAIT and limit.active_slots == {one.id}
    assert effects.touched_limits == set()
    _, effects = propose(ctx, one, ST.COMPLETED)
    assert limit.active_slots == set() and effects.touched_limits == {"db"}
    assert propose(ctx, two, ST.RUNNING)[0].status is Status.ACCEPT
    assert limit.active_slots == {two.id}


def test_cancelling_keeps_the_slot_and_cancelled_frees_it(ctx):
    limit = ctx.add_limit("db", 1)
    run = task_in(ctx, ST.PENDING, tags=["db"])
    walk(ctx, run, ST.RUNNING, ST.CANCELLING)
    assert limit.active_slots == {run.id}
    propose(ctx, run, ST.CANCELLED)
    assert limit.active_slots == set()


def test_a_zero_limit_aborts(ctx):
    ctx.add_limit("db", 0)
    other = ctx.add_limit("api", 5)
    run = task_in(ctx, ST.PENDING, tags=["api", "db"])
    decision, effects = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.ABORT and "deadlock" in decision.reason
    assert other.active_slots == set() and effects.touched_limits == set()


def test_re_entering_running_never_takes_two_slots(ctx):
    limit = ctx.add_limit("db", 2)
    run = task_in(ctx, ST.PENDING, tags=["db", "db"])  # a tag listed twice is one limit
    walk(ctx, run, ST.RUNNING)
    for _ in range(2):  # RUNNING -> RUNNING, and a duplicate of it
        decision, effects = propose(ctx, run, ST.RUNNING)
        assert decision.status is Status.ACCEPT
        assert limit.active_slots == {run.id} and effects.touched_limits == set()


def test_a_running_proposal_cancelled_out_later_gives_its_slot_back(ctx):
    # The slot is taken, then WaitForScheduledTime nullifies the transition: it is given back.
    limit = ctx.add_limit("db", 1)
    run = task_in(ctx, state(ST.SCHEDULED, scheduled_time=ctx.clock + timedelta(seconds=30)), tags=["db"])
    before = copy.deepcopy(run)
    decision, effects = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.WAIT
    assert limit.active_slots == set() and effects.touched_limits == set()
    assert run == before


def test_awaiting_retry_gives_the_slot_back(ctx):
    limit = ctx.add_limit("db", 1)
    run = task_in(ctx, ST.PENDING, tags=["db"])
    run.empirical_policy.retries = 1
    walk(ctx, run, ST.RUNNING, ST.FAILED)
    assert run.state.name == "AwaitingRetry" and limit.active_slots == set()


def test_forced_states_release_slots_and_forced_running_takes_none(ctx):
    limit = ctx.add_limit("db", 1)
    run = task_in(ctx, ST.PENDING, tags=["db"])
    walk(ctx, run, ST.RUNNING)
    _, effects = propose(ctx, run, ST.CRASHED, force=True)
    assert limit.active_slots == set() and effects.touched_limits == {"db"}
    propose(ctx, run, ST.RUNNING, force=True)
    assert limit.active_slots == set()


def test_a_task_handed_a_pause_holds_no_slot(ctx):
    limit = ctx.add_limit("db", 1)
    flow = flow_in(ctx, ST.RUNNING)
    run = task_in(ctx, ST.PENDING, flow=flow, tags=["db"])
    walk(ctx, run, ST.RUNNING)
    flow.state = state(ST.PAUSED)
    decision, _ = propose(ctx, run, ST.RUNNING)
    assert decision.state.type is ST.PAUSED and limit.active_slots == set()


def test_tags_without_limits_are_ignored(ctx):
    run = task_in(ctx, ST.PENDING, tags=["free"])
    decision, effects = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.ACCEPT and effects.touched_limits == set()
