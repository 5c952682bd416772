"""The fence: a proposal made under a claim that is no longer the flow run's changes nothing."""

from __future__ import annotations

import copy

import pytest

from orchestrator.core.models import Proposal, Status

from .conftest import ST, flow_in, state, task_in


def _propose(ctx, run, target, epoch, force=False):
    from orchestrator.core.policy import decide

    kind = "task" if hasattr(run, "task_key") else "flow"
    proposal = Proposal(state(target), force=force, lease_epoch=epoch)
    return decide(kind, run, proposal, ctx.inputs_for(kind, run, proposal), ctx.settings)[0]


@pytest.mark.parametrize("force", [False, True])
def test_an_old_epoch_is_aborted_and_changes_nothing(ctx, force):
    flow = flow_in(ctx, ST.CRASHED, lease_epoch=3)
    task = task_in(ctx, ST.CRASHED, flow=flow)
    for run, target in ((flow, ST.FAILED), (task, ST.COMPLETED)):
        before = copy.deepcopy(run)
        decision = _propose(ctx, run, target, epoch=2, force=force)
        assert decision.status is Status.ABORT and decision.nullified
        assert "taken away" in decision.reason and "epoch 2" in decision.reason
        assert run == before


def test_the_current_epoch_and_no_epoch_are_decided_as_usual(ctx):
    flow = flow_in(ctx, ST.RUNNING, lease_epoch=3)
    task = task_in(ctx, ST.PENDING, flow=flow)
    assert _propose(ctx, task, ST.RUNNING, epoch=3).status is Status.ACCEPT
    assert _propose(ctx, task, ST.COMPLETED, epoch=0).status is Status.ACCEPT
    assert _propose(ctx, flow, ST.COMPLETED, epoch=3).status is Status.ACCEPT


def test_a_task_proposal_with_an_epoch_asks_for_its_flow_run(ctx):
    from orchestrator.core.inputs import NEEDS_FLOW_RUN
    from orchestrator.core.policy import needs_for

    task = task_in(ctx, ST.RUNNING)
    assert NEEDS_FLOW_RUN not in needs_for("task", task, Proposal(state(ST.COMPLETED)))
    assert NEEDS_FLOW_RUN in needs_for("task", task, Proposal(state(ST.COMPLETED), lease_epoch=1))
