"""HandlePausingFlows, HandleResumingPausedFlows, PreventRunningTasksFromStoppedFlows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.core.models import Status
from orchestrator.core.rules import HandlePausingFlows

from .conftest import ST, flow_in, propose, state, task_in, transition, walk


# -- pausing -------------------------------------------------------------------------------
def test_a_run_without_state_cannot_pause(ctx):
    run = flow_in(ctx)
    decision, _ = propose(ctx, run, ST.PAUSED)
    assert decision.status is Status.ABORT and run.state is None


def test_pausing_a_running_flow_records_its_key(ctx):
    run = flow_in(ctx, ST.RUNNING)
    decision, _ = propose(ctx, run, state(ST.PAUSED, pause_key="k1"))
    assert decision.status is Status.ACCEPT
    assert run.empirical_policy.pause_keys == {"k1"}


def test_an_unnamed_pause_gets_a_key(ctx):
    run = flow_in(ctx, ST.RUNNING)
    propose(ctx, run, ST.PAUSED)
    assert run.state.details.pause_key in run.empirical_policy.pause_keys


def test_a_pause_fires_only_once(ctx):
    # The second pause with the same key hands back RUNNING.
    run = flow_in(ctx, ST.RUNNING)
    walk(ctx, run, state(ST.PAUSED, pause_key="once"), ST.RUNNING)
    decision, _ = propose(ctx, run, state(ST.PAUSED, pause_key="once"))
    assert decision.status is Status.REJECT and decision.nullified
    assert decision.state.type is ST.RUNNING
    assert decision.reason == "This pause has already fired."


def test_only_a_running_flow_can_pause(ctx):
    run = flow_in(ctx, ST.PENDING)
    t = transition(ctx, run, state(ST.PAUSED))
    HandlePausingFlows().before(t)
    assert t.status is Status.REJECT and t.nullified


@pytest.mark.parametrize(
    "fields,expected,words",
    [
        ({"parent_task_run_id": "t1", "deployment_id": "d1"}, Status.ABORT, "subflows"),
        ({}, Status.ABORT, "without a deployment"),
        ({"deployment_id": "d1"}, Status.ACCEPT, ""),
    ],
)
def test_pausing_with_reschedule(ctx, fields, expected, words):
    run = flow_in(ctx, ST.RUNNING, **fields)
    decision, _ = propose(ctx, run, state(ST.PAUSED, pause_reschedule=True))
    assert decision.status is expected
    assert words in decision.reason


# -- resuming ------------------------------------------------------------------------------
def test_resuming_into_running_continues_the_same_attempt(ctx):
    run = flow_in(ctx, ST.RUNNING, run_count=1)
    walk(ctx, run, ST.PAUSED)
    decision, _ = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.ACCEPT
    assert run.run_count == 1 and run.empirical_policy.resuming is False


def test_resuming_through_scheduled_does_not_count_a_new_attempt(ctx):
    run = flow_in(ctx, ST.RUNNING, run_count=1, deployment_id="d1")
    walk(ctx, run, state(ST.PAUSED, pause_reschedule=True))
    propose(ctx, run, state(ST.SCHEDULED, name="Resuming"))
    assert run.empirical_policy.resuming is True
    walk(ctx, run, ST.PENDING, ST.RUNNING)
    assert run.run_count == 1 and run.empirical_policy.resuming is False


@pytest.mark.parametrize("target", [ST.PENDING, ST.PAUSED])
def test_a_paused_flow_cannot_leave_for(ctx, target):
    run = flow_in(ctx, ST.PAUSED)
    decision, _ = propose(ctx, run, target)
    assert decision.status is Status.REJECT and decision.nullified


@pytest.mark.parametrize(
    "target", [ST.RUNNING, ST.SCHEDULED, ST.COMPLETED, ST.FAILED, ST.CRASHED, ST.CANCELLED]
)
def test_a_paused_flow_may_leave_for(ctx, target):
    run = flow_in(ctx, ST.PAUSED)
    assert propose(ctx, run, target)[0].status is Status.ACCEPT


def test_an_expired_pause_fails_the_run(ctx):
    run = flow_in(ctx, state(ST.PAUSED, pause_timeout=ctx.clock + timedelta(seconds=10)))
    ctx.tick(11)
    decision, _ = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.REJECT and not decision.nullified
    assert run.state.type is ST.FAILED
    assert run.state.message == "The flow was paused and never resumed."
    assert run.empirical_policy.resuming is False


def test_a_pause_within_its_timeout_resumes(ctx):
    run = flow_in(ctx, state(ST.PAUSED, pause_timeout=ctx.clock + timedelta(seconds=10)))
    ctx.tick(5)
    assert propose(ctx, run, ST.RUNNING)[0].status is Status.ACCEPT


def test_a_reschedule_pause_without_deployment_cannot_be_left(ctx):
    run = flow_in(ctx, state(ST.PAUSED, pause_reschedule=True))
    decision, _ = propose(ctx, run, ST.RUNNING)
    assert decision.nullified and run.state.type is ST.PAUSED


# -- tasks of a stopped flow ---------------------------------------------------------------
def test_task_of_a_paused_flow_is_handed_a_not_ready_pause(ctx):
    deadline = ctx.clock + timedelta(minutes=5)
    flow = flow_in(ctx, state(ST.PAUSED, pause_timeout=deadline, pause_reschedule=True))
    run = task_in(ctx, ST.PENDING, flow=flow)
    decision, _ = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.REJECT and not decision.nullified
    assert (run.state.type, run.state.name) == (ST.PAUSED, "NotReady")
    assert run.state.details.pause_timeout == deadline
    assert run.state.details.pause_reschedule is True
    assert run.run_count == 0 and run.start_time is None


@pytest.mark.parametrize("flow_state", [ST.PENDING, ST.SCHEDULED, ST.COMPLETED, ST.CANCELLING])
def test_task_of_a_flow_that_is_not_running_is_aborted(ctx, flow_state):
    run = task_in(ctx, ST.PENDING, flow=flow_state)
    decision, _ = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.ABORT
    assert run.state.type is ST.PENDING


def test_task_whose_flow_is_unknown_is_aborted(ctx):
    run = task_in(ctx, ST.PENDING)
    run.flow_run_id = "no-such-flow"
    assert propose(ctx, run, ST.RUNNING)[0].status is Status.ABORT
