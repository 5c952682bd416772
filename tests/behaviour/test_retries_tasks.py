"""Retries of tasks: how many attempts, the delays between them (one, a list, jitter,
exponential backoff), the run count and state name inside each attempt, on_failure hooks after
the last attempt only, and retry_condition_fn. Delays are scaled down from seconds to tenths of
seconds."""

from __future__ import annotations

import statistics
import time

import pytest

from executor import task
from executor.context import get_run_context
from executor.states import StateType
from executor.tasks import exponential_backoff

from ._retrying import RETRY_HISTORY_3_FAILED, SLACK, run_task_in_flow
from ._util import names

pytestmark = pytest.mark.timeout(30)


# 62 ------------------------------------------------------------------------------------------
def test_62_always_failing_task_with_three_retries(client):
    calls = []

    @task(retries=3)
    def flaky():
        calls.append(1)
        raise ValueError("always")

    state, trid = run_task_in_flow(flaky)
    assert len(calls) == 4
    assert state.is_failed()
    assert names(client.read_task_run_states(trid)) == RETRY_HISTORY_3_FAILED
    assert client.read_task_run(trid).run_count == 4


def test_62_task_succeeding_on_fourth_attempt(client):
    calls = []

    @task(retries=3)
    def flaky():
        calls.append(1)
        if len(calls) < 4:
            raise ValueError("not yet")
        return "finally"

    state, trid = run_task_in_flow(flaky)
    assert state.result() == "finally"
    assert len(calls) == 4
    assert names(client.read_task_run_states(trid)) == RETRY_HISTORY_3_FAILED[:-1] + ["Completed"]


# 63 ------------------------------------------------------------------------------------------
def test_63_task_succeeding_on_second_attempt(client):
    calls = []

    @task(retries=3)
    def flaky():
        calls.append(1)
        if len(calls) < 2:
            raise ValueError("first time")
        return 2

    state, trid = run_task_in_flow(flaky)
    assert state.result() == 2
    assert len(calls) == 2
    assert names(client.read_task_run_states(trid)) == [
        "Pending", "Running", "AwaitingRetry", "Retrying", "Completed",
    ]  # fmt: skip
    awaiting = client.read_task_run_states(trid)[2]
    assert awaiting.type == StateType.SCHEDULED


# 64 ------------------------------------------------------------------------------------------
def attempt_gaps(retry_delay_seconds, retries, **options):
    """Run an always-failing task; return the gaps between the starts of its attempts."""
    starts: list[float] = []

    @task(retries=retries, retry_delay_seconds=retry_delay_seconds, **options)
    def flaky():
        starts.append(time.monotonic())
        raise ValueError("again")

    state, _ = run_task_in_flow(flaky)
    assert state.is_failed()
    assert len(starts) == retries + 1
    return [b - a for a, b in zip(starts, starts[1:])]


def test_64_single_retry_delay():
    (gap,) = attempt_gaps(0.4, 1)
    assert 0.4 - 0.02 <= gap < 0.4 + SLACK


def test_64_list_of_delays():
    gaps = attempt_gaps([0.1, 0.2, 0.3], 3)
    for gap, delay in zip(gaps, [0.1, 0.2, 0.3]):
        assert delay - 0.02 <= gap < delay + SLACK
    assert sum(gaps) >= 0.6 - 0.05


def test_64_short_list_repeats_its_last_delay():
    gaps = attempt_gaps([0.05, 0.25], 3)
    assert 0.05 - 0.02 <= gaps[0] < 0.05 + SLACK
    assert 0.25 - 0.02 <= gaps[1] < 0.25 + SLACK
    assert 0.25 - 0.02 <= gaps[2] < 0.25 + SLACK


def test_64_retry_jitter_stays_within_bounds_and_varies():
    delay, factor = 0.2, 0.5
    gaps = attempt_gaps(delay, 5, retry_jitter_factor=factor)
    for gap in gaps:
        assert gap < delay * (1 + factor) + 0.15
    assert max(gaps) - min(gaps) > 0.04, gaps  # jitter: not all the same delay
    assert statistics.pstdev(gaps) > 0.01


def test_64_exponential_backoff():
    gaps = attempt_gaps(exponential_backoff(0.1), 3)
    for gap, delay in zip(gaps, [0.1, 0.2, 0.4]):
        assert delay - 0.02 <= gap < delay + SLACK


# 65 ------------------------------------------------------------------------------------------
def test_65_run_count_and_state_name_seen_inside_each_attempt(client):
    seen: list[tuple[int, str]] = []

    @task(retries=3)
    def flaky():
        ctx = get_run_context()
        current = client.read_task_run(str(ctx.task_run.id)).state.name
        seen.append((ctx.task_run.run_count, current))
        raise ValueError("again")

    run_task_in_flow(flaky)
    assert seen == [(1, "Running"), (2, "Retrying"), (3, "Retrying"), (4, "Retrying")]


# 67 ------------------------------------------------------------------------------------------
def test_67_on_failure_hook_runs_once_after_the_last_retry():
    calls, hook_calls = [], []

    def on_failure(task, task_run, state):
        hook_calls.append((len(calls), state.type))

    @task(retries=2, on_failure=[on_failure])
    def always():
        calls.append(1)
        raise ValueError("always")

    state, _ = run_task_in_flow(always)
    assert state.is_failed()
    assert len(calls) == 3
    assert hook_calls == [(3, StateType.FAILED)]


def test_67_on_failure_hook_does_not_run_when_a_retry_succeeds():
    calls, failure_hooks, completion_hooks = [], [], []

    @task(
        retries=2,
        on_failure=[lambda task, task_run, state: failure_hooks.append(1)],
        on_completion=[lambda task, task_run, state: completion_hooks.append(1)],
    )
    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ValueError("not yet")
        return "ok"

    state, _ = run_task_in_flow(flaky)
    assert state.result() == "ok"
    assert failure_hooks == []
    assert completion_hooks == [1]


# 74a -----------------------------------------------------------------------------------------
def test_74a_retry_condition_fn_decides_whether_to_retry():
    def retry_on_value_error(task, task_run, state):
        try:
            state.result()
        except ValueError:
            return True
        except Exception:
            return False
        return False

    calls = {"type": 0, "value": 0}

    @task(retries=3, retry_condition_fn=retry_on_value_error)
    def raise_type_error():
        calls["type"] += 1
        raise TypeError("not retriable")

    @task(retries=3, retry_condition_fn=retry_on_value_error)
    def raise_value_error():
        calls["value"] += 1
        raise ValueError("retriable")

    state, _ = run_task_in_flow(raise_type_error)
    assert state.is_failed()
    assert calls["type"] == 1

    state, _ = run_task_in_flow(raise_value_error)
    assert state.is_failed()
    assert calls["value"] == 4
