"""The propose doors: rule order, staleness, force, nullified outcomes, rule hooks."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from orchestrator.core.models import Status
from orchestrator.core.policy import (
    CORE_FLOW_POLICY,
    CORE_TASK_POLICY,
    MINIMAL_FLOW_POLICY,
    MINIMAL_TASK_POLICY,
)
from orchestrator.core.rules import PreventRunningTasksFromStoppedFlows, SecureTaskConcurrencySlots

from .conftest import ST, flow_in, propose, state, task_in


def names(policy):
    return [rule.name for rule in policy.rules]


def test_policies_keep_their_order():
    assert names(CORE_FLOW_POLICY) == [
        "HandleFlowTerminalStateTransitions",
        "EnforceCancellingToCancelledTransition",
        "BypassCancellingScheduledFlowRuns",
        "CancelUnheldFlowRunsAtOnce",
        "PreventPendingTransitions",
        "HandlePausingFlows",
        "HandleResumingPausedFlows",
        "CopyScheduledTime",
        "WaitForScheduledTime",
        "RetryFailedFlows",
        "ReleaseLeaseWhenWorkEnds",
        "MirrorSubflowStateOntoTracker",
    ]
    assert names(CORE_TASK_POLICY) == [
        "CacheRetrieval",
        "HandleTaskTerminalStateTransitions",
        "PreventRunningTasksFromStoppedFlows",
        "SecureTaskConcurrencySlots",
        "CopyScheduledTime",
        "WaitForScheduledTime",
        "RetryFailedTasks",
        "RenameReruns",
        "UpdateFlowRunTrackerOnTasks",
        "CacheInsertion",
        "ReleaseTaskConcurrencySlots",
    ]
    assert names(MINIMAL_FLOW_POLICY) == ["ReleaseLeaseWhenWorkEnds", "MirrorSubflowStateOntoTracker"]
    assert names(MINIMAL_TASK_POLICY) == ["ReleaseTaskConcurrencySlots"]


# -- expected_state_id -----------------------------------------------------------------------
@pytest.mark.parametrize("force", [False, True])
def test_a_stale_proposal_is_refused_with_the_current_state(ctx, force):
    run = flow_in(ctx, ST.RUNNING)
    before = copy.deepcopy(run)
    decision, _ = propose(ctx, run, ST.COMPLETED, force=force, expected_state_id="old-id")
    assert decision.status is Status.REJECT and decision.nullified
    assert decision.state is run.state
    assert "old-id" in decision.reason and run.state.id in decision.reason
    assert run == before


def test_a_proposal_expecting_the_current_state_goes_through(ctx):
    run = task_in(ctx, ST.RUNNING)
    decision, _ = propose(ctx, run, ST.COMPLETED, expected_state_id=run.state.id)
    assert decision.status is Status.ACCEPT


def test_a_proposal_expecting_a_state_on_a_new_run_is_stale(ctx):
    run = task_in(ctx)
    decision, _ = propose(ctx, run, ST.PENDING, expected_state_id="x")
    assert decision.nullified and run.state is None and "no state" in decision.reason


# -- the machine and force -------------------------------------------------------------------
def test_a_refused_edge_keeps_the_run_where_it_is(ctx):
    run = task_in(ctx, ST.CANCELLING)
    decision, _ = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.REJECT and decision.nullified
    assert decision.state is run.state
    assert "cannot go from CANCELLING to RUNNING" in decision.reason


@pytest.mark.parametrize("make", [flow_in, task_in])
def test_force_bypasses_the_lifecycle_and_the_rules(ctx, make):
    run = make(ctx, ST.CANCELLED)
    decision, _ = propose(ctx, run, ST.RUNNING, force=True)
    assert decision.status is Status.ACCEPT and run.state.type is ST.RUNNING


def test_forced_pending_rename_is_accepted(ctx):
    run = flow_in(ctx, ST.PENDING)
    decision, _ = propose(ctx, run, state(ST.PENDING, name="NotReady"), force=True)
    assert decision.status is Status.ACCEPT and run.state.name == "NotReady"


# -- decisions -------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [flow_in, task_in])
def test_the_first_state_of_a_new_run_goes_through_the_policy(ctx, make):
    run = make(ctx)
    decision, _ = propose(ctx, run, ST.PENDING)
    assert decision.status is Status.ACCEPT and decision.changed
    assert run.state is decision.state and run.expected_start_time is not None


def test_a_wait_changes_nothing_and_carries_the_run_state(ctx):
    run = flow_in(ctx, state(ST.SCHEDULED, scheduled_time=ctx.clock + timedelta(seconds=9)))
    before = copy.deepcopy(run)
    decision, effects = propose(ctx, run, ST.RUNNING)
    assert (decision.status, decision.nullified, decision.changed) == (Status.WAIT, True, False)
    assert decision.state is run.state and run == before


@pytest.mark.parametrize("failing", [PreventRunningTasksFromStoppedFlows, SecureTaskConcurrencySlots])
def test_a_rule_that_raises_leaves_the_run_as_found(ctx, monkeypatch, failing):
    def broken(self, t):
        raise RuntimeError("a bug in a rule")

    ctx.add_limit("db", 5)
    # The terminal rule resets run_count, then a later rule fails: cleanup restores it.
    run = task_in(ctx, ST.FAILED, run_count=2, tags=["db"])
    monkeypatch.setattr(failing, "before", broken)
    before = copy.deepcopy(run)
    with pytest.raises(RuntimeError):
        propose(ctx, run, ST.RUNNING)
    assert run == before
    assert ctx.limits["db"].active_slots == set()
