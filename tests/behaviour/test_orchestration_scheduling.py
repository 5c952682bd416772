"""Orchestration: scheduled runs wait for their time.

Scheduled WAITs come from Scheduled states that a run hands back as its final state (the
orchestrator accepts the non-final state, the engine proposes Running again and must honour the
WAIT until the scheduled time).
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from executor import flow, task
from executor.states import Scheduled, StateType

from ._orchestrating import now
from ._util import flow_run_id, uniq

pytestmark = pytest.mark.timeout(30)


# 103 -----------------------------------------------------------------------------------------
def test_103_task_scheduled_ahead_waits_then_runs(client):
    calls: list[float] = []

    @task
    def later():
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Scheduled(scheduled_time=now() + timedelta(seconds=0.6))
        return 1

    @flow(name=uniq("orch-103t"))
    def f():
        state = later(return_state=True)
        return state.result(), str(state.state_details.task_run_id)

    value, trid = f()
    assert value == 1
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.55  # the WAIT until the scheduled time was honoured
    history = client.read_task_run_states(trid)
    assert [s.type for s in history] == [
        StateType.PENDING, StateType.RUNNING, StateType.SCHEDULED, StateType.RUNNING,
        StateType.COMPLETED,
    ]  # fmt: skip


def test_103_task_scheduled_in_the_past_runs_at_once():
    calls: list[float] = []

    @task
    def later():
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Scheduled(scheduled_time=now() - timedelta(seconds=300))
        return 1

    @flow(name=uniq("orch-103p"))
    def f():
        return later()

    assert f() == 1
    assert calls[1] - calls[0] < 0.4


def test_103_flow_scheduled_ahead_waits_then_runs(client):
    calls: list[float] = []

    @flow(name=uniq("orch-103f"))
    def f():
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Scheduled(scheduled_time=now() + timedelta(seconds=0.6))
        return "ran again"

    state = f(return_state=True)
    assert state.result() == "ran again"
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.55
    fid = flow_run_id(state)
    assert client.read_flow_run(fid).run_count == 2
    assert [s.type for s in client.read_flow_run_states(fid)] == [
        StateType.PENDING, StateType.RUNNING, StateType.SCHEDULED, StateType.RUNNING,
        StateType.COMPLETED,
    ]  # fmt: skip
