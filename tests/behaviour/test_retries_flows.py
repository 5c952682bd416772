"""Retries of flows and subflows, and of tasks inside them: the body runs again after its delay,
completed tasks and subflows are kept, failed ones run again, and the retries of parents and
children combine. Delays are scaled down from seconds to tenths of seconds."""

from __future__ import annotations

import time

import pytest

from executor import flow, task
from executor.context import get_run_context
from executor.states import StateType

from ._retrying import SLACK
from ._util import flow_run_id, names, uniq

pytestmark = pytest.mark.timeout(30)


# 68 ------------------------------------------------------------------------------------------
def test_68_flow_retry_runs_the_body_again():
    calls = []

    @flow(name=uniq("retry-68"), retries=1)
    def f():
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first")
        return "hello"

    assert f() == "hello"
    assert len(calls) == 2


def test_68_flow_out_of_retries_is_failed_with_history(client):
    calls = []

    @flow(name=uniq("retry-68b"), retries=2)
    def f():
        calls.append(1)
        raise ValueError("always")

    state = f(return_state=True)
    assert state.is_failed()
    assert len(calls) == 3
    fid = flow_run_id(state)
    assert client.read_flow_run(fid).run_count == 3
    assert names(client.read_flow_run_states(fid)) == [
        "Pending", "Running", "AwaitingRetry", "Running", "AwaitingRetry", "Running", "Failed",
    ]  # fmt: skip


def test_68_flow_retry_delay():
    starts: list[float] = []

    @flow(name=uniq("retry-68d"), retries=1, retry_delay_seconds=0.4)
    def f():
        starts.append(time.monotonic())
        raise ValueError("again")

    assert f(return_state=True).is_failed()
    assert len(starts) == 2
    assert 0.4 - 0.02 <= starts[1] - starts[0] < 0.4 + SLACK


# 69 ------------------------------------------------------------------------------------------
def test_69_flow_retry_keeps_completed_task():
    task_calls, body_calls = [], []

    @task
    def once():
        task_calls.append(1)
        return {"value": 42}

    @flow(name=uniq("retry-69"), retries=1)
    def f():
        body_calls.append(1)
        value = once()
        if len(body_calls) == 1:
            raise ValueError("fail after the task completed")
        return value

    assert f() == {"value": 42}
    assert len(body_calls) == 2
    assert len(task_calls) == 1


def test_69_flow_retry_keeps_completed_subflow():
    child_calls, body_calls = [], []

    @flow(name=uniq("retry-69child"))
    def child():
        child_calls.append(1)
        return "from child"

    @flow(name=uniq("retry-69s"), retries=1)
    def parent():
        body_calls.append(1)
        value = child()
        if len(body_calls) == 1:
            raise ValueError("fail after the child completed")
        return value

    assert parent() == "from child"
    assert len(body_calls) == 2
    assert len(child_calls) == 1


# 70 ------------------------------------------------------------------------------------------
def test_70_flow_retry_reruns_failed_task():
    task_calls = []

    @task
    def fails_first():
        task_calls.append(1)
        if len(task_calls) == 1:
            raise ValueError("task failed")
        return "ok"

    @flow(name=uniq("retry-70"), retries=1)
    def f():
        return fails_first()

    assert f() == "ok"
    assert len(task_calls) == 2


def test_70_task_gets_its_retries_again_in_each_flow_attempt():
    task_calls = []

    @task(retries=1)
    def fails_three_times():
        task_calls.append(1)
        if len(task_calls) <= 3:
            raise ValueError(f"attempt {len(task_calls)}")
        return "ok"

    @flow(name=uniq("retry-70b"), retries=1)
    def f():
        return fails_three_times()

    assert f() == "ok"
    assert len(task_calls) == 4


def test_70_always_failing_task_retries_under_retrying_flow():
    task_calls = []

    @task(retries=2)
    def always():
        task_calls.append(1)
        raise ValueError("task error")

    @flow(name=uniq("retry-70c"), retries=1)
    def f():
        return always()

    with pytest.raises(ValueError, match="task error"):
        f()
    assert len(task_calls) == 6


# 71 ------------------------------------------------------------------------------------------
def test_71_failed_child_flow_gets_a_new_run_on_parent_retry(client):
    child_runs: list[str] = []

    @flow(name=uniq("retry-71child"))
    def child():
        child_runs.append(str(get_run_context().flow_run.id))
        if len(child_runs) == 1:
            raise ValueError("child failed")
        return "second child run"

    @flow(name=uniq("retry-71"), retries=1)
    def parent():
        return child()

    assert parent() == "second child run"
    assert len(child_runs) == 2
    assert child_runs[0] != child_runs[1]
    assert client.read_flow_run(child_runs[0]).state.type == StateType.FAILED
    assert client.read_flow_run(child_runs[1]).state.type == StateType.COMPLETED


def test_71_child_failed_by_its_task_reruns_child_and_task():
    child_calls, task_calls = [], []

    @task
    def inner():
        task_calls.append(1)
        if len(task_calls) == 1:
            raise ValueError("inner task failed")
        return "inner ok"

    @flow(name=uniq("retry-71bchild"))
    def child():
        child_calls.append(1)
        return inner()

    @flow(name=uniq("retry-71b"), retries=1)
    def parent():
        return child()

    assert parent() == "inner ok"
    assert len(child_calls) == 2
    assert len(task_calls) == 2


# 72 ------------------------------------------------------------------------------------------
def test_72_child_retries_do_not_rerun_the_parent():
    parent_calls, child_calls = [], []

    @flow(name=uniq("retry-72child"), retries=1)
    def child():
        child_calls.append(1)
        if len(child_calls) == 1:
            raise ValueError("child first attempt")
        return "child ok"

    @flow(name=uniq("retry-72"))
    def parent():
        parent_calls.append(1)
        return child()

    assert parent() == "child ok"
    assert len(parent_calls) == 1
    assert len(child_calls) == 2


def test_72_parent_and_child_retries_multiply():
    child_calls = []

    @flow(name=uniq("retry-72bchild"), retries=1)
    def child():
        child_calls.append(1)
        raise ValueError("child always fails")

    @flow(name=uniq("retry-72b"), retries=1)
    def parent():
        return child()

    with pytest.raises(ValueError, match="child always fails"):
        parent()
    assert len(child_calls) == 4
