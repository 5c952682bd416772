"""Orchestration: which transitions the rules allow, driven with the client's
set_flow_run_state: out of terminal states, back to Pending, tasks of a flow that is not
running, manual retries, retries of a failed task under a retrying flow, and pausing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from executor import flow, task
from executor.context import get_run_context
from executor.states import (
    Cancelled,
    Completed,
    Failed,
    Paused,
    Pending,
    Running,
    Scheduled,
    State,
    StateType,
)

from ._orchestrating import now
from ._util import flow_run_id, names, uniq

pytestmark = pytest.mark.timeout(30)


# 107 -----------------------------------------------------------------------------------------
def completed_flow_run(persist):
    @flow(name=uniq("orch-107"), persist_result=persist)
    def f():
        return 1

    state = f(return_state=True)
    assert state.is_completed()
    return flow_run_id(state)


def test_107_terminal_runs_cannot_crash_or_start_cancelling(client):
    fid = completed_flow_run(persist=False)
    client.set_flow_run_state(fid, State(type=StateType.CRASHED, message="late crash"))
    assert client.read_flow_run(fid).state.type == StateType.COMPLETED
    client.set_flow_run_state(fid, State(type=StateType.CANCELLING))
    assert client.read_flow_run(fid).state.type == StateType.COMPLETED
    client.set_flow_run_state(fid, Paused())
    assert client.read_flow_run(fid).state.type == StateType.COMPLETED


def test_107_completed_with_persisted_result_stays_completed(client):
    fid = completed_flow_run(persist=True)
    client.set_flow_run_state(fid, Running())
    assert client.read_flow_run(fid).state.type == StateType.COMPLETED
    assert client.read_flow_run(fid).state.result() == 1


def test_107_completed_with_unpersisted_result_may_run_again(client):
    fid = completed_flow_run(persist=False)
    client.set_flow_run_state(fid, Running())
    assert client.read_flow_run(fid).state.type == StateType.RUNNING
    client.set_flow_run_state(fid, Completed())
    assert client.read_flow_run(fid).state.type == StateType.COMPLETED


# 108 -----------------------------------------------------------------------------------------
def test_108_running_flow_run_cannot_go_back_to_pending(client):
    seen = {}

    @flow(name=uniq("orch-108"))
    def f():
        fid = str(get_run_context().flow_run.id)
        client.set_flow_run_state(fid, Pending())
        seen["after"] = client.read_flow_run(fid).state.type
        return "still running"

    assert f() == "still running"
    assert seen["after"] == StateType.RUNNING


def test_108_cancelled_flow_run_cannot_go_back_to_pending(client):
    @flow(name=uniq("orch-108c"))
    def f():
        return Cancelled()

    fid = flow_run_id(f(return_state=True))
    client.set_flow_run_state(fid, Pending())
    assert client.read_flow_run(fid).state.type == StateType.CANCELLED


def test_108_failed_flow_run_may_go_to_pending(client):
    @flow(name=uniq("orch-108f"))
    def f():
        raise ValueError("x")

    fid = flow_run_id(f(return_state=True))
    client.set_flow_run_state(fid, Pending())
    assert client.read_flow_run(fid).state.type == StateType.PENDING
    client.set_flow_run_state(fid, Failed(message="put back"), force=True)


# 109 -----------------------------------------------------------------------------------------
def test_109_task_cannot_start_while_its_flow_is_not_running(client):
    calls = []

    @task
    def t():
        calls.append(1)
        return "ran"

    seen = {}

    @flow(name=uniq("orch-109"))
    def f():
        fid = str(get_run_context().flow_run.id)
        client.set_flow_run_state(fid, Pending(), force=True)
        state = t(return_state=True)
        seen["state"] = state
        seen["task"] = str(state.state_details.task_run_id)
        client.set_flow_run_state(fid, Running(), force=True)
        return "body done"

    assert f() == "body done"
    assert calls == []
    assert seen["state"].type == StateType.PENDING
    assert client.read_task_run(seen["task"]).state.type == StateType.PENDING


# 110 -----------------------------------------------------------------------------------------
def test_110_manual_retry_without_a_deployment_is_refused(client):
    @flow(name=uniq("orch-110"))
    def f():
        raise ValueError("failed")

    state = f(return_state=True)
    fid = flow_run_id(state)
    client.set_flow_run_state(fid, Scheduled(name="AwaitingRetry"))
    run = client.read_flow_run(fid)
    assert run.state.type == StateType.FAILED
    assert run.run_count == 1


# 111 -----------------------------------------------------------------------------------------
def test_111_failed_task_reruns_as_retrying_when_its_flow_retries(client):
    seen: list[tuple[int, str]] = []

    @task
    def flaky():
        ctx = get_run_context()
        seen.append((ctx.task_run.run_count, client.read_task_run(str(ctx.task_run.id)).state.name))
        if len(seen) == 1:
            raise ValueError("first flow attempt")
        return str(ctx.task_run.id)

    @flow(name=uniq("orch-111"), retries=1)
    def f():
        return flaky()

    trid = f()
    assert seen == [(1, "Running"), (1, "Retrying")]  # run_count was reset, then counted again
    assert names(client.read_task_run_states(trid)) == [
        "Pending", "Running", "Failed", "Retrying", "Completed",
    ]  # fmt: skip


# 112 -----------------------------------------------------------------------------------------
def test_112_flow_retry_decision_follows_run_count(client):
    calls = []

    @flow(name=uniq("orch-112"), retries=1)
    def f():
        calls.append(1)
        raise ValueError("always")

    state = f(return_state=True)
    fid = flow_run_id(state)
    types = [s.type for s in client.read_flow_run_states(fid)]
    # run_count 1 <= retries 1: AwaitingRetry; run_count 2 > retries: FAILED accepted.
    assert types == [
        StateType.PENDING, StateType.RUNNING, StateType.SCHEDULED, StateType.RUNNING,
        StateType.FAILED,
    ]  # fmt: skip
    assert client.read_flow_run(fid).run_count == 2
    assert len(calls) == 2


# 113 -----------------------------------------------------------------------------------------
def test_113_only_running_flows_can_be_paused(client):
    seen = {}

    @flow(name=uniq("orch-113"))
    def f():
        fid = str(get_run_context().flow_run.id)
        client.set_flow_run_state(fid, Pending(), force=True)
        client.set_flow_run_state(fid, Paused(timeout_seconds=30))
        seen["after"] = client.read_flow_run(fid).state.type
        client.set_flow_run_state(fid, Running(), force=True)
        return "body done"

    assert f() == "body done"
    assert seen["after"] == StateType.PENDING


def test_113_paused_run_cannot_go_to_pending(client):
    @task
    def pauser():
        return Paused(pause_expiration_time=now() + timedelta(seconds=30), pause_key="k")

    @flow(name=uniq("orch-113p"))
    def f():
        pauser()

    fid = flow_run_id(f(return_state=True))
    client.set_flow_run_state(fid, Pending())
    assert client.read_flow_run(fid).state.type == StateType.PAUSED
    client.set_flow_run_state(fid, Cancelled())  # leaving PAUSED for a terminal state is allowed
    assert client.read_flow_run(fid).state.type == StateType.CANCELLED
