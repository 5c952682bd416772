"""G. Retries (scenarios 62-74a). Delays are scaled down from seconds to tenths of seconds."""

from __future__ import annotations

import statistics
import time

import pytest

from executor import flow, task
from executor.context import get_run_context
from executor.states import StateType
from executor.tasks import exponential_backoff

from ._deployments import deployer  # noqa: F401 (a fixture)
from ._util import flow_run_id, names, uniq

pytestmark = pytest.mark.timeout(30)

RETRY_HISTORY_3_FAILED = [
    "Pending", "Running",
    "AwaitingRetry", "Retrying",
    "AwaitingRetry", "Retrying",
    "AwaitingRetry", "Retrying",
    "Failed",
]  # fmt: skip


def run_task_in_flow(t, *args, **kwargs):
    """Call `t` once inside a fresh flow; return (task state, task run id)."""

    @flow(name=uniq("retry-host"))
    def host():
        state = t(*args, return_state=True, **kwargs)
        return state, str(state.state_details.task_run_id)

    return host()


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


SLACK = 0.5  # engine overhead allowed on top of a delay


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


# 66 ------------------------------------------------------------------------------------------
# Prefect's PREFECT_* settings are CADENZA_* environment variables here (DESIGN.md conventions).
def test_66_task_default_retries_setting(monkeypatch):
    monkeypatch.setenv("CADENZA_TASK_DEFAULT_RETRIES", "1")
    monkeypatch.setenv("CADENZA_TASK_DEFAULT_RETRY_DELAY_SECONDS", "0.3")
    starts: list[float] = []

    @task
    def flaky():
        starts.append(time.monotonic())
        raise ValueError("again")

    state, _ = run_task_in_flow(flaky)
    assert state.is_failed()
    assert len(starts) == 2
    assert 0.3 - 0.02 <= starts[1] - starts[0] < 0.3 + SLACK


def test_66_explicit_retries_win_over_the_default_setting(monkeypatch):
    monkeypatch.setenv("CADENZA_TASK_DEFAULT_RETRIES", "3")
    calls = []

    @task(retries=0)
    def once():
        calls.append(1)
        raise ValueError("no retries")

    run_task_in_flow(once)
    assert len(calls) == 1


def test_66_flow_default_retries_setting(monkeypatch):
    monkeypatch.setenv("CADENZA_FLOW_DEFAULT_RETRIES", "1")
    monkeypatch.setenv("CADENZA_FLOW_DEFAULT_RETRY_DELAY_SECONDS", "0.3")
    starts: list[float] = []

    @flow(name=uniq("retry-66f"))
    def f():
        starts.append(time.monotonic())
        if len(starts) == 1:
            raise ValueError("first")
        return "second"

    assert f() == "second"
    assert 0.3 - 0.02 <= starts[1] - starts[0] < 0.3 + SLACK


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


# 73 ------------------------------------------------------------------------------------------
def test_73_flow_run_name_template_with_defaults(client):
    @flow(name=uniq("retry-73"), flow_run_name="hi-{foo}-{bar}")
    def f(foo="one", bar="two"):
        return get_run_context().flow_run.id

    fid = f()
    assert client.read_flow_run(str(fid)).name == "hi-one-two"


def test_73_flow_run_name_callable_is_evaluated_once_per_run(client):
    name_calls, body_calls = [], []

    def make_name():
        name_calls.append(1)
        return f"named-{len(name_calls)}"

    @flow(name=uniq("retry-73c"), flow_run_name=make_name, retries=3)
    def f():
        body_calls.append(1)
        if len(body_calls) < 4:
            raise ValueError("retry me")
        return get_run_context().flow_run.id

    fid = f()
    assert len(body_calls) == 4
    assert len(name_calls) == 1
    assert client.read_flow_run(str(fid)).name == "named-1"

    body_calls.clear()
    body_calls.extend([1, 1, 1])  # the next call succeeds at once
    f()
    assert len(name_calls) == 2


def test_73_flow_run_name_callable_must_return_a_string():
    @flow(name=uniq("retry-73t"), flow_run_name=lambda: 42)
    def f():
        return 1

    with pytest.raises(TypeError):
        f()


def test_73_task_run_name_template_and_callable(client):
    name_calls, body_calls = [], []

    def make_name():
        name_calls.append(1)
        return "custom-task-name"

    @task(task_run_name="hi-{foo}-{bar}")
    def templated(foo, bar="two"):
        return get_run_context().task_run.id

    @task(task_run_name=make_name, retries=3)
    def flaky():
        body_calls.append(1)
        if len(body_calls) < 4:
            raise ValueError("retry me")
        return get_run_context().task_run.id

    @flow(name=uniq("retry-73task"))
    def f():
        return templated("one"), flaky()

    templated_id, trid = f()
    assert client.read_task_run(str(templated_id)).name == "hi-one-two"
    assert len(body_calls) == 4
    assert len(name_calls) == 1
    assert client.read_task_run(str(trid)).name == "custom-task-name"


def test_73_task_run_name_callable_must_return_a_string():
    @task(task_run_name=lambda: 42)
    def t():
        return 1

    @flow(name=uniq("retry-73tt"))
    def f():
        return t()

    with pytest.raises(TypeError):
        f()


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


# 74 ------------------------------------------------------------------------------------------
ALWAYS_FAILS = """
    from executor import flow

    @flow(retries=2, retry_delay_seconds=0.2)
    def always_fails():
        raise ValueError("always")
"""


def test_74_deployment_run_copies_flow_retries_into_the_run(client, deployer):
    fid = deployer.run(ALWAYS_FAILS, "always_fails")
    assert client.read_flow_run(fid).empirical_policy["retries"] == 0  # unset by the deployment
    # The test is the worker here: an executor's worker today also claims a run's AwaitingRetry
    # state while its own child retries the run in process, and the flow runs twice.
    done = deployer.run_as_worker(fid)
    assert done.returncode == 0, done.stderr
    run = client.read_flow_run(fid)
    assert run.state.type == StateType.FAILED, run.state
    assert run.run_count == 3
    assert run.empirical_policy["retries"] == 2 and run.empirical_policy["retry_delay"] == pytest.approx(0.2)
    states = client.read_flow_run_states(fid)
    assert [s.type for s in states] == [
        StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING,
        StateType.SCHEDULED, StateType.RUNNING, StateType.SCHEDULED, StateType.RUNNING, StateType.FAILED,
    ]  # fmt: skip
    # Each retry waited out its delay: about 0.4 s in all.
    for waiting, running in [(states[3], states[4]), (states[5], states[6])]:
        assert waiting.name == "AwaitingRetry"
        assert (running.timestamp - waiting.timestamp).total_seconds() >= 0.19
