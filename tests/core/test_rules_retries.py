"""RetryFailedFlows, RetryFailedTasks, RenameReruns, UpdateFlowRunTrackerOnTasks."""

from __future__ import annotations

import statistics
from datetime import timedelta

import pytest

from orchestrator.core.models import ResultKind, Status
from orchestrator.core.rules.retries import jittered, task_retry_delay

from .conftest import ST, flow_in, propose, state, task_in, walk


def attempt(ctx, run, outcome=ST.FAILED):
    """Run once from wherever the run is: wait out any delay, RUNNING, then `outcome`."""
    decision, _ = propose(ctx, run, ST.RUNNING)
    if decision.status is Status.WAIT:
        ctx.tick(decision.delay_seconds)
        decision, _ = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.ACCEPT, decision.reason
    return propose(ctx, run, outcome)[0]


def test_task_retries_give_n_plus_one_attempts_with_prefect_names(ctx):
    run = task_in(ctx, ST.PENDING)
    run.empirical_policy.retries = 3
    names = [run.state.name]
    for _ in range(4):
        attempt(ctx, run)
        names += [run.state.name]
    assert run.state.type is ST.FAILED and run.run_count == 4
    assert names == ["Pending", "AwaitingRetry", "AwaitingRetry", "AwaitingRetry", "Failed"]


def test_task_running_names_across_retries(ctx):
    run = task_in(ctx, ST.PENDING)
    run.empirical_policy.retries = 2
    seen = []
    for outcome in (ST.FAILED, ST.FAILED, ST.COMPLETED):
        decision, _ = propose(ctx, run, ST.RUNNING)
        if decision.status is Status.WAIT:
            decision, _ = propose(ctx, run, ST.RUNNING)
        seen.append(run.state.name)
        propose(ctx, run, outcome)
    assert seen == ["Running", "Retrying", "Retrying"]
    assert run.state.name == "Completed"


def test_awaiting_retry_carries_the_failure_and_the_delay(ctx):
    run = task_in(ctx, ST.RUNNING, run_count=1)
    run.empirical_policy.retries = 1
    run.empirical_policy.retry_delay_seconds = [43]
    failed = state(ST.FAILED, message="boom", data=ResultKind.PERSISTED)
    decision, _ = propose(ctx, run, failed)
    assert decision.status is Status.REJECT and decision.reason == "Retrying"
    retry = run.state
    assert (retry.type, retry.name, retry.message) == (ST.SCHEDULED, "AwaitingRetry", "boom")
    assert retry.data.kind is ResultKind.PERSISTED
    assert retry.details.scheduled_time == ctx.clock + timedelta(seconds=43)


def test_task_delays_follow_the_list_and_repeat_the_last(ctx):
    run = task_in(ctx, ST.PENDING)
    run.empirical_policy.retries = 4
    run.empirical_policy.retry_delay_seconds = [3, 5, 9]
    delays = []
    for _ in range(4):
        attempt(ctx, run)
        delays.append((run.state.details.scheduled_time - ctx.clock).total_seconds())
    assert delays == [3, 5, 9, 9]
    assert task_retry_delay([], 3) == 0.0


def test_a_failure_marked_not_retriable_is_final(ctx):
    run = task_in(ctx, ST.RUNNING, run_count=1)
    run.empirical_policy.retries = 3
    decision, _ = propose(ctx, run, state(ST.FAILED, retriable=False))
    assert decision.status is Status.ACCEPT and run.state.type is ST.FAILED


def test_jitter_stays_within_its_bounds_and_varies(ctx):
    # 10 retries of 100 s with jitter, fed ten different draws: each within 100*(1 +/- f),
    # and they differ.
    run = task_in(ctx, ST.PENDING)
    run.empirical_policy.retries = 10
    run.empirical_policy.retry_delay_seconds = [100]
    run.empirical_policy.retry_jitter_factor = 0.5
    delays = []
    for i in range(10):
        ctx.draw = i / 10
        attempt(ctx, run)
        delays.append((run.state.details.scheduled_time - ctx.clock).total_seconds())
    assert all(50 <= d <= 150 for d in delays)
    assert statistics.pvariance(delays) > 0


@pytest.mark.parametrize("u", [0.0, 0.25, 0.5, 0.999999])
def test_jittered_is_clamped(u):
    assert 70.0 <= jittered(100.0, 0.3, u) <= 130.0
    assert jittered(0.0, 0.3, u) == 0.0 and jittered(10.0, 0.0, u) == 10.0


def test_the_same_draw_gives_the_same_delay(ctx):
    # The core has no random source of its own: the delay is a function of the draw it is fed.
    delays = []
    for _ in range(2):
        run = task_in(ctx, ST.PENDING)
        run.empirical_policy.retries = 1
        run.empirical_policy.retry_delay_seconds = [100]
        run.empirical_policy.retry_jitter_factor = 0.5
        ctx.draw = 0.9
        attempt(ctx, run)
        delays.append(run.state.details.scheduled_time)
    assert delays[0] == delays[1]


def test_flow_retry_then_final_failure(ctx):
    run = flow_in(ctx, ST.RUNNING, run_count=1)
    run.empirical_policy.retries = 1
    run.empirical_policy.retry_delay_seconds = 7
    decision, _ = propose(ctx, run, ST.FAILED)
    assert decision.status is Status.REJECT
    assert (run.state.type, run.state.name) == (ST.SCHEDULED, "AwaitingRetry")
    assert run.state.details.scheduled_time == ctx.clock + timedelta(seconds=7)
    ctx.tick(7)
    walk(ctx, run, ST.PENDING, ST.RUNNING)
    assert run.run_count == 2 and run.state.name == "Running"  # flows keep "Running"
    assert propose(ctx, run, ST.FAILED)[0].status is Status.ACCEPT


def test_flow_retry_forgets_pauses(ctx):
    run = flow_in(ctx, ST.RUNNING, run_count=1)
    run.empirical_policy.retries = 1
    run.empirical_policy.pause_keys = {"k"}
    propose(ctx, run, ST.FAILED)
    assert run.empirical_policy.pause_keys == set()


def test_rerun_not_after_a_retry_is_named_rerunning(ctx):
    run = task_in(ctx, ST.RUNNING, run_count=1)
    propose(ctx, run, ST.RUNNING)
    assert run.state.name == "Rerunning" and run.run_count == 2


def test_first_run_keeps_its_name(ctx):
    run = task_in(ctx, ST.PENDING)
    propose(ctx, run, state(ST.RUNNING, name="Custom"))
    assert run.state.name == "Custom"


def test_task_remembers_its_flow_attempt(ctx):
    flow = flow_in(ctx, ST.RUNNING, run_count=3)
    run = task_in(ctx, ST.PENDING, flow=flow)
    propose(ctx, run, ST.RUNNING)
    assert run.flow_run_run_count == 3
