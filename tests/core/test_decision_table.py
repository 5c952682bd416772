"""The answer for every (from, to) pair through the full policy, in a plain setup:
no deployment, no process holding the run, no retries, no tags, no cache keys, results not persisted, and for task runs a
RUNNING flow run.

A = ACCEPT   R = REJECT with a replacement state   s = REJECT, stay where you are
W = WAIT     X = ABORT
"""

from __future__ import annotations

import copy

import pytest

from orchestrator.core.models import Status

from .conftest import ST, flow_in, propose, state, task_in

COLUMNS = "SCHEDULED PENDING RUNNING COMPLETED FAILED CRASHED CANCELLED CANCELLING PAUSED".split()

FLOW_ANSWERS = """
            S P R C F X D G Z
NONE        A A A A A A A A X
SCHEDULED   A A A A A A A R s
PENDING     A X A A A A A R s
RUNNING     A X A A A A A R A
COMPLETED   X A A A A X A X X
FAILED      X A A A A X A X X
CRASHED     X A A A A X A X X
CANCELLED   X s s s s X A X X
CANCELLING  s s s s s s A s s
PAUSED      A s A A A A A R s
"""

TASK_ANSWERS = """
            S P R C F X D G Z
NONE        A A A A A A A A A
SCHEDULED   A A A A A A A A A
PENDING     A A A A A A A A A
RUNNING     A A A A A A A A A
COMPLETED   A A A A A X A X X
FAILED      A A A A A X A X X
CRASHED     A A A A A X A X X
CANCELLED   s s s s s X A X X
CANCELLING  s s s s s s A s s
PAUSED      A A A A A A A A A
"""


def table(text: str):
    rows = [line.split() for line in text.strip().splitlines()[1:]]
    return [
        pytest.param(None if row[0] == "NONE" else ST(row[0]), ST(col), cell, id=f"{row[0]}->{col}")
        for row in rows
        for col, cell in zip(COLUMNS, row[1:])
    ]


def code(decision) -> str:
    if decision.status is Status.REJECT:
        return "s" if decision.nullified else "R"
    return {Status.ACCEPT: "A", Status.WAIT: "W", Status.ABORT: "X"}[decision.status]


def initial(from_type, ctx):
    if from_type is None:
        return None
    if from_type is ST.SCHEDULED:
        return state(from_type, scheduled_time=ctx.clock)
    return state(from_type)


def check(run, to_type, expected, ctx):
    before = copy.deepcopy(run)
    decision, effects = propose(ctx, run, to_type)
    assert code(decision) == expected, decision.reason
    if decision.nullified:
        assert decision.state is run.state
        assert run == before  # nothing about the run changed
        assert not effects.cache_inserts and not effects.touched_limits
    else:
        assert run.state is decision.state


@pytest.mark.parametrize("from_type,to_type,expected", table(FLOW_ANSWERS))
def test_flow_run_answer(ctx, from_type, to_type, expected):
    run = flow_in(ctx, initial(from_type, ctx))
    check(run, to_type, expected, ctx)


@pytest.mark.parametrize("from_type,to_type,expected", table(TASK_ANSWERS))
def test_task_run_answer(ctx, from_type, to_type, expected):
    run = task_in(ctx, initial(from_type, ctx))
    check(run, to_type, expected, ctx)
