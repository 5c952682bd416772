"""Global bookkeeping (times, counts, ids recorded on every change), for ordinary and forced
transitions."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.core.models import Status

from .conftest import ST, T0, flow_in, propose, state, task_in, walk


def test_start_time_is_the_first_start_only(ctx):
    run = task_in(ctx, ST.PENDING)
    walk(ctx, run, ST.RUNNING)
    ctx.tick(10)
    walk(ctx, run, ST.RUNNING)
    assert run.start_time == T0 and run.run_count == 2


def test_end_time_is_set_on_finishing_and_cleared_on_leaving(ctx):
    run = flow_in(ctx, ST.PENDING)
    walk(ctx, run, ST.RUNNING)
    ctx.tick(5)
    walk(ctx, run, ST.FAILED)
    assert run.end_time == T0 + timedelta(seconds=5)
    walk(ctx, run, ST.RUNNING)
    assert run.end_time is None


def test_end_time_needs_a_start(ctx):
    run = flow_in(ctx, ST.PENDING)
    walk(ctx, run, ST.CANCELLED)
    assert run.end_time is None


def test_run_time_adds_up_the_time_spent_running(ctx):
    run = task_in(ctx, ST.PENDING)
    run.empirical_policy.retries = 1
    walk(ctx, run, ST.RUNNING)
    ctx.tick(3)
    walk(ctx, run, ST.FAILED)  # -> AwaitingRetry
    ctx.tick(100)
    walk(ctx, run, ST.RUNNING)
    ctx.tick(2)
    walk(ctx, run, ST.COMPLETED)
    assert run.total_run_time == 5.0


def test_expected_start_time_comes_from_the_first_state(ctx):
    when = T0 + timedelta(hours=2)
    scheduled = flow_in(ctx)
    propose(ctx, scheduled, state(ST.SCHEDULED, scheduled_time=when))
    assert scheduled.expected_start_time == when
    pending = flow_in(ctx)
    propose(ctx, pending, ST.PENDING)
    ctx.tick(9)
    propose(ctx, pending, ST.RUNNING)
    assert pending.expected_start_time == T0


def test_next_scheduled_start_time_follows_scheduled_states(ctx):
    when = T0 + timedelta(seconds=1)
    run = flow_in(ctx)
    propose(ctx, run, state(ST.SCHEDULED, scheduled_time=when))
    assert run.next_scheduled_start_time == when
    propose(ctx, run, ST.PENDING)
    assert run.next_scheduled_start_time is None


def test_scheduled_without_a_time_means_now(ctx):
    run = flow_in(ctx)
    propose(ctx, run, ST.SCHEDULED)
    assert run.state.details.scheduled_time == T0 == run.next_scheduled_start_time


def test_states_are_stamped_and_linked_to_their_runs(ctx):
    flow = flow_in(ctx, parent_task_run_id="tracker")
    proposed = state(ST.PENDING)
    proposed.timestamp = T0 - timedelta(days=1)  # the caller's clock is not trusted
    propose(ctx, flow, proposed)
    assert flow.state.timestamp == T0
    assert (flow.state.details.flow_run_id, flow.state.details.task_run_id) == (flow.id, "tracker")
    task = task_in(ctx)
    propose(ctx, task, ST.PENDING)
    assert (task.state.details.flow_run_id, task.state.details.task_run_id) == (task.flow_run_id, task.id)


def test_flow_run_count_counts_attempts(ctx):
    run = flow_in(ctx)
    walk(ctx, run, ST.PENDING, ST.RUNNING)
    assert run.run_count == 1
    run.empirical_policy.resuming = True
    walk(ctx, run, ST.RUNNING)
    assert run.run_count == 1 and run.empirical_policy.resuming is False
    walk(ctx, run, ST.RUNNING)
    assert run.run_count == 2


def test_resuming_is_cleared_by_a_final_state(ctx):
    run = flow_in(ctx, ST.SCHEDULED)
    run.empirical_policy.resuming = True
    walk(ctx, run, ST.CANCELLED)
    assert run.empirical_policy.resuming is False


def test_forced_transitions_are_recorded_too(ctx):
    run = task_in(ctx, ST.PENDING)
    propose(ctx, run, ST.RUNNING, force=True)
    assert run.run_count == 1 and run.start_time == T0
    ctx.tick(4)
    decision, _ = propose(ctx, run, ST.CRASHED, force=True)
    assert decision.status is Status.ACCEPT
    assert run.end_time == T0 + timedelta(seconds=4) and run.total_run_time == 4.0


def test_a_clock_going_backwards_never_makes_run_time_negative(ctx):
    run = task_in(ctx, ST.PENDING)
    walk(ctx, run, ST.RUNNING)
    ctx.tick(-1)
    walk(ctx, run, ST.COMPLETED)
    assert run.total_run_time == 0.0
