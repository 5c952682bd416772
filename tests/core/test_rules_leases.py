"""ReleaseLeaseWhenWorkEnds: a worker's claim ends with the process's work on the run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.core.models import Status

from .conftest import ST, flow_in, propose, state


def leased(ctx, target):
    return flow_in(
        ctx, target, worker_id="w1", lease_expiration=ctx.clock + timedelta(seconds=10), deployment_id="dep"
    )


@pytest.mark.parametrize("final", [ST.COMPLETED, ST.FAILED, ST.CRASHED, ST.CANCELLED])
@pytest.mark.parametrize("force", [False, True])
def test_a_final_state_ends_the_lease(ctx, final, force):
    run = leased(ctx, ST.RUNNING)
    decision, _ = propose(ctx, run, final, force=force)
    assert decision.changed
    assert run.lease_expiration is None
    assert run.worker_id == "w1"  # who ran it is still known


def test_a_run_scheduled_again_can_be_claimed_by_anyone(ctx):
    run = leased(ctx, ST.RUNNING)
    propose(ctx, run, ST.SCHEDULED, force=True)
    assert run.lease_expiration is None and run.worker_id == ""


def test_a_rescheduling_pause_ends_the_lease_but_a_blocking_one_does_not(ctx):
    blocking = leased(ctx, ST.RUNNING)
    propose(ctx, blocking, state(ST.PAUSED, pause_key="a"))
    assert blocking.state.type is ST.PAUSED and blocking.lease_expiration is not None
    rescheduling = leased(ctx, ST.RUNNING)
    propose(ctx, rescheduling, state(ST.PAUSED, pause_key="b", pause_reschedule=True))
    assert rescheduling.state.type is ST.PAUSED and rescheduling.lease_expiration is None


def test_a_refused_proposal_keeps_the_lease(ctx):
    run = leased(ctx, ST.RUNNING)
    decision, _ = propose(ctx, run, ST.COMPLETED, expected_state_id="stale")
    assert decision.status is Status.REJECT and decision.nullified
    assert run.lease_expiration is not None and run.worker_id == "w1"


def test_running_keeps_the_lease(ctx):
    run = leased(ctx, ST.PENDING)
    propose(ctx, run, ST.RUNNING)
    assert run.lease_expiration is not None


def test_a_flow_awaiting_a_retry_stays_with_the_process_that_retries_it(ctx):
    run = leased(ctx, ST.RUNNING)
    run.run_count, run.empirical_policy.retries = 1, 1
    decision, _ = propose(ctx, run, ST.FAILED)
    assert decision.state.name == "AwaitingRetry"
    assert run.lease_expiration is not None and run.worker_id == "w1"
