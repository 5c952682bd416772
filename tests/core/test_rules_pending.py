"""PreventPendingTransitions, BypassCancellingScheduledFlowRuns and CancelUnheldFlowRunsAtOnce."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.core.models import Status

from .conftest import ST, flow_in, propose, state, task_in


@pytest.mark.parametrize("current", [ST.PENDING, ST.RUNNING])
def test_flow_cannot_go_back_to_pending(ctx, current):
    run = flow_in(ctx, current)
    decision, _ = propose(ctx, run, ST.PENDING)
    assert decision.status is Status.ABORT
    assert "cannot transition to a PENDING state" in decision.reason
    assert run.state.type is current


@pytest.mark.parametrize("current", [ST.SCHEDULED, ST.COMPLETED, ST.FAILED, ST.CRASHED])
def test_flow_may_become_pending_from_elsewhere(ctx, current):
    run = flow_in(ctx, state(current, scheduled_time=ctx.clock))
    assert propose(ctx, run, ST.PENDING)[0].status is Status.ACCEPT


def test_task_pending_to_pending_is_not_guarded(ctx):
    # The task policy has no such rule; NotReady renames go through.
    run = task_in(ctx, ST.PENDING)
    decision, _ = propose(ctx, run, state(ST.PENDING, name="NotReady"))
    assert decision.status is Status.ACCEPT and run.state.name == "NotReady"


@pytest.mark.parametrize("name", ["Scheduled", "Resuming", "Late"])
def test_cancelling_a_scheduled_flow_cancels_it_at_once(ctx, name):
    run = flow_in(ctx, state(ST.SCHEDULED, name=name, scheduled_time=ctx.clock))
    decision, _ = propose(ctx, run, state(ST.CANCELLING, message="by user"))
    assert decision.status is Status.REJECT and not decision.nullified
    assert run.state.type is ST.CANCELLED and run.state.message == "by user"


def test_cancelling_a_suspended_flow_cancels_it_at_once(ctx):
    run = flow_in(ctx, state(ST.PAUSED, pause_reschedule=True), deployment_id="d1")
    decision, _ = propose(ctx, run, ST.CANCELLING)
    assert decision.status is Status.REJECT and run.state.type is ST.CANCELLED


def test_cancelling_a_blocking_pause_cancels_it_at_once(ctx):
    # Its process runs nothing while it waits, and stops when it sees the run final.
    run = flow_in(ctx, ST.PAUSED)
    decision, _ = propose(ctx, run, ST.CANCELLING)
    assert decision.status is Status.REJECT and not decision.nullified
    assert run.state.type is ST.CANCELLED


@pytest.mark.parametrize("current", [ST.PENDING, ST.RUNNING])
def test_cancelling_a_held_flow_goes_through_cancelling(ctx, current):
    # Its holder (a worker's claim, or the script driving it) stops it and reports Cancelled.
    run = flow_in(ctx, current, worker_id="w1", lease_expiration=ctx.clock + timedelta(seconds=10))
    assert propose(ctx, run, ST.CANCELLING)[0].status is Status.ACCEPT
    assert run.state.type is ST.CANCELLING


@pytest.mark.parametrize("current", [ST.PENDING, ST.RUNNING])
def test_cancelling_a_flow_no_process_holds_cancels_it_at_once(ctx, current):
    run = flow_in(ctx, current)
    decision, _ = propose(ctx, run, state(ST.CANCELLING, message="by user"))
    assert decision.status is Status.REJECT and not decision.nullified
    assert run.state.type is ST.CANCELLED and run.state.message == "by user"
    assert "No process holds the run" in decision.reason


def test_cancelling_a_subflow_goes_through_cancelling(ctx):
    # The parent's process drives it and stops it at its next step.
    run = flow_in(ctx, ST.RUNNING, parent_task_run_id="t1")
    assert propose(ctx, run, ST.CANCELLING)[0].status is Status.ACCEPT
    assert run.state.type is ST.CANCELLING
