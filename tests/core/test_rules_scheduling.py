"""CopyScheduledTime and WaitForScheduledTime."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.core.models import Status

from .conftest import ST, flow_in, propose, state, task_in


@pytest.mark.parametrize("make", [flow_in, task_in])
def test_pending_takes_the_scheduled_time_when_it_has_none(ctx, make):
    when = ctx.clock + timedelta(hours=1)
    run = make(ctx, state(ST.SCHEDULED, scheduled_time=when))
    propose(ctx, run, ST.PENDING)
    assert run.state.details.scheduled_time == when


def test_pending_keeps_its_own_scheduled_time(ctx):
    mine = ctx.clock + timedelta(minutes=1)
    run = flow_in(ctx, state(ST.SCHEDULED, scheduled_time=ctx.clock + timedelta(hours=1)))
    propose(ctx, run, state(ST.PENDING, scheduled_time=mine))
    assert run.state.details.scheduled_time == mine


def test_other_transitions_copy_nothing(ctx):
    run = flow_in(ctx, state(ST.RUNNING, scheduled_time=ctx.clock))
    propose(ctx, run, ST.COMPLETED)
    assert run.state.details.scheduled_time is None


@pytest.mark.parametrize("make", [flow_in, task_in])
@pytest.mark.parametrize("current", [ST.SCHEDULED, ST.PENDING])
def test_running_waits_for_the_scheduled_time(ctx, make, current):
    # Five minutes ahead -> WAIT about 300 s, then it runs.
    run = make(ctx, state(current, scheduled_time=ctx.clock + timedelta(seconds=300)))
    decision, _ = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.WAIT and decision.nullified
    assert decision.delay_seconds == pytest.approx(300.0)
    assert isinstance(decision.delay_seconds, float)
    ctx.tick(299.5)
    assert propose(ctx, run, ST.RUNNING)[0].delay_seconds == pytest.approx(0.5)
    ctx.tick(0.5)
    assert propose(ctx, run, ST.RUNNING)[0].status is Status.ACCEPT


def test_a_past_scheduled_time_does_not_wait(ctx):
    run = task_in(ctx, state(ST.SCHEDULED, scheduled_time=ctx.clock - timedelta(seconds=5)))
    assert propose(ctx, run, ST.RUNNING)[0].status is Status.ACCEPT
