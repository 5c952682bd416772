"""HandleFlowTerminalStateTransitions, HandleTaskTerminalStateTransitions,
EnforceCancellingToCancelledTransition."""

from __future__ import annotations

import copy

import pytest

from orchestrator.core.models import TERMINAL_TYPES, ResultKind, Status
from orchestrator.core.rules import EnforceCancellingToCancelledTransition

from .conftest import ST, flow_in, propose, state, task_in, transition

TERMINAL = sorted(TERMINAL_TYPES)


# -- flows ---------------------------------------------------------------------------------
@pytest.mark.parametrize("terminal", TERMINAL)
@pytest.mark.parametrize("target", [ST.CRASHED, ST.CANCELLING, ST.PAUSED])
def test_flow_terminal_cannot_be_marked_crashed_cancelling_or_paused(ctx, terminal, target):
    run = flow_in(ctx, terminal)
    decision, _ = propose(ctx, run, target)
    assert decision.status is Status.ABORT
    assert decision.reason == f"Run is already in terminal state {terminal.value}."


@pytest.mark.parametrize(
    "kind,expected",
    [
        (ResultKind.PERSISTED, Status.REJECT),
        (ResultKind.LITERAL, Status.REJECT),
        (ResultKind.UNPERSISTED, Status.ACCEPT),
        (ResultKind.NONE, Status.ACCEPT),
    ],
)
def test_flow_completed_with_a_kept_result_stays_completed(ctx, kind, expected):
    run = flow_in(ctx, state(ST.COMPLETED, data=kind))
    decision, _ = propose(ctx, run, ST.RUNNING)
    assert decision.status is expected
    if expected is Status.REJECT:
        assert decision.nullified and run.state.type is ST.COMPLETED
        assert decision.reason == "Run is already COMPLETED."


def test_flow_completed_with_a_kept_result_may_still_move_to_another_final_state(ctx):
    run = flow_in(ctx, state(ST.COMPLETED, data=ResultKind.PERSISTED))
    assert propose(ctx, run, ST.FAILED)[0].status is Status.ACCEPT


def test_flow_reschedule_needs_a_deployment(ctx):
    run = flow_in(ctx, ST.FAILED)
    decision, _ = propose(ctx, run, ST.SCHEDULED)
    assert decision.status is Status.ABORT
    assert "without an associated deployment" in decision.reason


def test_flow_manual_retry_with_a_deployment_is_allowed_past_retries(ctx):
    run = flow_in(ctx, ST.FAILED, deployment_id="d1", run_count=3)
    run.empirical_policy.retries = 1
    decision, _ = propose(ctx, run, state(ST.SCHEDULED, name="Manual"))
    assert decision.status is Status.ACCEPT
    assert run.state.name == "Manual" and run.run_count == 3


def test_flow_leaving_a_terminal_state_forgets_pauses(ctx):
    run = flow_in(ctx, ST.FAILED)
    run.empirical_policy.pause_keys = {"k"}
    run.empirical_policy.resuming = True
    assert propose(ctx, run, ST.RUNNING)[0].status is Status.ACCEPT
    assert run.empirical_policy.pause_keys == set()
    assert run.run_count == 1  # resuming was cleared before bookkeeping counted the attempt


def test_flow_pauses_are_put_back_when_the_transition_fizzles(ctx):
    # CANCELLED -> SCHEDULED passes the terminal rule (which clears the pauses), then the
    # cancelling rule keeps the run where it is: the cleanup must restore the pauses.
    run = flow_in(ctx, ST.CANCELLED, deployment_id="d1")
    run.empirical_policy.pause_keys = {"k"}
    run.empirical_policy.resuming = True
    before = copy.deepcopy(run)
    decision, _ = propose(ctx, run, ST.SCHEDULED)
    assert decision.status is Status.REJECT and decision.nullified
    assert run == before


# -- tasks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("terminal", TERMINAL)
@pytest.mark.parametrize("target", [ST.CRASHED, ST.CANCELLING, ST.PAUSED])
def test_task_terminal_cannot_be_marked_crashed_cancelling_or_paused(ctx, terminal, target):
    run = task_in(ctx, terminal)
    decision, _ = propose(ctx, run, target)
    assert decision.status is Status.ABORT
    assert decision.reason == f"Run is already {terminal.value}."


@pytest.mark.parametrize("target", [ST.RUNNING, ST.COMPLETED, ST.FAILED])
def test_task_completed_with_a_persisted_result_stays_even_for_final_proposals(ctx, target):
    run = task_in(ctx, state(ST.COMPLETED, data=ResultKind.PERSISTED))
    decision, _ = propose(ctx, run, target)
    assert decision.status is Status.REJECT and decision.nullified
    assert decision.reason == "This run is already completed."


def test_task_rerun_from_failed_gets_its_retries_again(ctx):
    run = task_in(ctx, ST.FAILED, run_count=3)
    run.empirical_policy.retries = 1
    assert propose(ctx, run, ST.RUNNING)[0].status is Status.ACCEPT
    assert run.run_count == 1 and run.state.name == "Running"
    # ... so its next failure is retried again.
    decision, _ = propose(ctx, run, ST.FAILED)
    assert decision.state.name == "AwaitingRetry"


def test_task_rerun_in_a_retried_flow_is_named_retrying(ctx):
    # The flow is at run_count 4; the task last ran in its attempt 2.
    flow = flow_in(ctx, ST.RUNNING, run_count=4)
    run = task_in(ctx, ST.FAILED, flow=flow, run_count=2, flow_run_run_count=2)
    decision, _ = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.ACCEPT
    assert run.state.name == "Retrying"
    assert run.run_count == 1  # reset to 0, then counted
    assert run.flow_run_run_count == 4


def test_task_rerun_in_the_same_flow_attempt_is_not_named_retrying(ctx):
    flow = flow_in(ctx, ST.RUNNING, run_count=2)
    run = task_in(ctx, ST.COMPLETED, flow=flow, run_count=1, flow_run_run_count=2)
    propose(ctx, run, ST.RUNNING)
    assert run.state.name == "Running"


def test_task_run_count_is_restored_when_the_rerun_is_refused(ctx):
    run = task_in(ctx, ST.FAILED, flow=ST.COMPLETED, run_count=3)
    before = copy.deepcopy(run)
    decision, _ = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.ABORT  # the flow is not running
    assert run == before


def test_task_run_count_is_restored_when_the_rerun_is_swapped_for_paused(ctx):
    run = task_in(ctx, ST.FAILED, flow=ST.PAUSED, run_count=3)
    decision, _ = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.REJECT and decision.state.type is ST.PAUSED
    assert run.run_count == 3


# -- cancelling ----------------------------------------------------------------------------
def test_cancelled_flow_with_a_deployment_stays_cancelled_when_rescheduled(ctx):
    # The terminal rule lets it through (there is a deployment); only this rule stops it.
    run = flow_in(ctx, ST.CANCELLED, deployment_id="d1")
    decision, _ = propose(ctx, run, ST.SCHEDULED)
    assert decision.status is Status.REJECT and decision.nullified
    assert "other than Cancelled" in decision.reason


@pytest.mark.parametrize("target", [ST.RUNNING, ST.CRASHED, ST.COMPLETED, ST.PENDING])
def test_enforce_cancelling_rule_keeps_the_run_where_it_is(ctx, target):
    run = flow_in(ctx, ST.CANCELLING)
    t = transition(ctx, run, state(target))
    EnforceCancellingToCancelledTransition().before(t)
    assert t.status is Status.REJECT and t.nullified


def test_crash_report_on_a_cancelling_flow_hands_back_cancelling(ctx):
    run = flow_in(ctx, ST.CANCELLING)
    decision, _ = propose(ctx, run, ST.CRASHED)
    assert decision.status is Status.REJECT and decision.state.type is ST.CANCELLING
    assert propose(ctx, run, ST.CANCELLED)[0].status is Status.ACCEPT
