"""MirrorSubflowStateOntoTracker: a subflow's states are copied onto its tracking task run."""

from __future__ import annotations

from orchestrator.core.models import Status
from orchestrator.core.policy import decide

from .conftest import ST, flow_in, propose, task_in


def test_every_new_state_of_a_subflow_asks_for_a_forced_copy_on_its_tracker(ctx):
    parent = flow_in(ctx, ST.RUNNING)
    tracker = task_in(ctx, ST.RUNNING, flow=parent)
    child = flow_in(ctx, ST.PENDING, parent_task_run_id=tracker.id)
    decision, effects = propose(ctx, child, ST.RUNNING)
    assert decision.status is Status.ACCEPT
    (follow_up,) = effects.follow_ups
    assert (follow_up.run_kind, follow_up.run_id, follow_up.proposal.force) == ("task", tracker.id, True)
    copy = follow_up.proposal.state
    assert copy.type is ST.RUNNING and copy.id != child.state.id
    assert copy.details.child_flow_run_id == child.id and copy.details.transition_id == ""


def test_the_copy_lands_on_the_tracker_when_decided(ctx):
    parent = flow_in(ctx, ST.RUNNING)
    tracker = task_in(ctx, ST.RUNNING, flow=parent)
    child = flow_in(ctx, ST.RUNNING, parent_task_run_id=tracker.id)
    _, effects = propose(ctx, child, ST.COMPLETED)
    (follow_up,) = effects.follow_ups
    inputs = ctx.inputs_for("task", tracker, follow_up.proposal)
    decision, _ = decide("task", tracker, follow_up.proposal, inputs, ctx.settings)
    assert decision.status is Status.ACCEPT and tracker.state.type is ST.COMPLETED
    assert tracker.state.details.task_run_id == tracker.id
    assert tracker.state.details.flow_run_id == parent.id
    assert tracker.state.details.child_flow_run_id == child.id


def test_no_copy_for_a_top_level_flow_or_a_state_that_does_not_stand(ctx):
    top = flow_in(ctx, ST.RUNNING)
    assert propose(ctx, top, ST.COMPLETED)[1].follow_ups == []
    child = flow_in(ctx, ST.RUNNING, parent_task_run_id="tracker")
    decision, effects = propose(ctx, child, ST.PENDING)  # aborted: nothing changed
    assert decision.status is Status.ABORT and effects.follow_ups == []


def test_forced_states_are_mirrored_too(ctx):
    child = flow_in(ctx, ST.RUNNING, parent_task_run_id="tracker")
    _, effects = propose(ctx, child, ST.CRASHED, force=True)
    assert [f.proposal.state.type for f in effects.follow_ups] == [ST.CRASHED]
