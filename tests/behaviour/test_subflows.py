"""Subflows: sync and async parents and children, gathered and recursive subflows, a child's
error or failed state in its parent, parameter validation, the tracking task run that links a
subflow to its parent, dynamic keys, and tags."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from executor import flow, tags, task
from executor.context import get_run_context
from executor.exceptions import ParameterTypeError
from executor.states import StateType

from ._util import ids, task_runs, uniq

pytestmark = pytest.mark.timeout(30)


# 54 ------------------------------------------------------------------------------------------
def test_54_sync_parent_sync_child_gets_the_value():
    @flow(name=uniq("sub-54child"))
    def child(x, y, z):
        return x + y + z

    @flow(name=uniq("sub-54"))
    def parent():
        return child(1, 2, 3)

    assert parent() == 6


def test_54_async_parent_async_child():
    @flow(name=uniq("sub-54achild"))
    async def child(x, y, z):
        return x + y + z

    @flow(name=uniq("sub-54a"))
    async def parent():
        return await child(1, 2, 3)

    assert asyncio.run(parent()) == 6


def test_54_async_parent_sync_child():
    @flow(name=uniq("sub-54bchild"))
    def child(x, y, z):
        return x + y + z

    @flow(name=uniq("sub-54b"))
    async def parent():
        value = child(1, 2, 3)
        assert not inspect.isawaitable(value)
        return value

    assert asyncio.run(parent()) == 6


def test_54_sync_parent_async_child_gets_value_not_coroutine():
    @flow(name=uniq("sub-54cchild"))
    async def child(x, y, z):
        await asyncio.sleep(0)
        return x + y + z

    seen = {}

    @flow(name=uniq("sub-54c"))
    def parent():
        value = child(1, 2, 3)
        seen["awaitable"] = inspect.isawaitable(value)
        return value

    assert parent() == 6
    assert seen["awaitable"] is False


# 55 ------------------------------------------------------------------------------------------
def test_55_gathered_async_subflows():
    @flow(name=uniq("sub-55child"))
    async def child(i):
        await asyncio.sleep(0.01)
        return i

    @flow(name=uniq("sub-55"))
    async def parent():
        return await asyncio.gather(*[child(i) for i in range(5)])

    assert asyncio.run(parent()) == [0, 1, 2, 3, 4]


def test_55_recursive_sync_subflow():
    @flow(name=uniq("sub-55rec"))
    def recurse(n):
        if n <= 0:
            return 0
        return n + recurse(n - 1)

    assert recurse(5) == 15


def test_55_recursive_async_subflow():
    @flow(name=uniq("sub-55arec"))
    async def recurse(n):
        if n <= 0:
            return 0
        return n + await recurse(n - 1)

    assert asyncio.run(recurse(5)) == 15


# 56 ------------------------------------------------------------------------------------------
def test_56_subflow_exception_reaches_the_parent():
    @flow(name=uniq("sub-56child"))
    def child():
        raise ValueError("child bad")

    caught = []

    @flow(name=uniq("sub-56"))
    def parent():
        try:
            child()
        except ValueError as exc:
            caught.append(str(exc))
        child()

    state = parent(return_state=True)
    assert caught == ["child bad"]
    assert state.is_failed()
    assert state.message.startswith("Flow run encountered an exception.")
    assert "ValueError: child bad" in state.message


# 57 ------------------------------------------------------------------------------------------
def test_57_parent_return_value_decides_over_failed_child_state():
    @flow(name=uniq("sub-57child"))
    def child():
        raise ValueError("child bad")

    @flow(name=uniq("sub-57"))
    def parent():
        child(return_state=True)
        return "fine"

    state = parent(return_state=True)
    assert state.is_completed()
    assert state.result() == "fine"


def test_57_parent_returning_none_counts_the_failed_child():
    @flow(name=uniq("sub-57bchild"))
    def child():
        raise ValueError("child bad")

    @flow(name=uniq("sub-57b"))
    def parent():
        child(return_state=True)

    state = parent(return_state=True)
    assert state.is_failed()
    assert state.message == "1/1 states failed."


def test_57_one_bad_and_one_good_child():
    @flow(name=uniq("sub-57cbad"))
    def bad():
        raise ValueError("child bad")

    @flow(name=uniq("sub-57cgood"))
    def good():
        return 1

    @flow(name=uniq("sub-57c"))
    def parent():
        bad(return_state=True)
        good(return_state=True)

    state = parent(return_state=True)
    assert state.is_failed()
    assert state.message == "1/2 states failed."


# 58 ------------------------------------------------------------------------------------------
def test_58_subflow_with_invalid_parameters_fails_without_running():
    calls = []

    @flow(name=uniq("sub-58child"))
    def child(x: int):
        calls.append(x)
        return x

    @flow(name=uniq("sub-58"))
    def parent():
        return child("foo", return_state=True)

    state = parent(return_state=True)
    assert state.is_failed()
    child_state = state.result(raise_on_failure=False)
    assert child_state.is_failed()
    assert "invalid parameters" in child_state.message
    assert calls == []
    with pytest.raises(ParameterTypeError):
        parent()


def test_58_subflow_without_validation_gets_raw_value():
    @flow(name=uniq("sub-58nchild"), validate_parameters=False)
    def child(x: int):
        return x

    @flow(name=uniq("sub-58n"))
    def parent():
        return child("foo")

    assert parent() == "foo"


# 59 ------------------------------------------------------------------------------------------
def test_59_subflow_is_linked_through_a_tracking_task_run(client):
    child_name = uniq("sub-59child")

    @task
    def upstream():
        return "up" * 3

    @task
    def gate():
        return None

    @flow(name=child_name, version="7")
    def child(x):
        return get_run_context().flow_run.id

    seen = {}

    @flow(name=uniq("sub-59"))
    def parent():
        up = upstream.submit()
        g = gate.submit()
        seen["up"], seen["gate"] = up.task_run_id, g.task_run_id
        seen["child_id"] = child(up, wait_for=[g])
        seen["parent_id"] = get_run_context().flow_run.id

    assert parent(return_state=True).is_completed()

    child_run = client.read_flow_run(str(seen["child_id"]))
    tracking_id = str(child_run.parent_task_run_id)
    assert tracking_id

    tracking = client.read_task_run(tracking_id)
    assert str(tracking.flow_run_id) == str(seen["parent_id"])
    assert tracking.name.startswith(child_name)
    assert str(seen["up"]) in ids(tracking.task_inputs["x"])
    assert ids(tracking.task_inputs["wait_for"]) == {str(seen["gate"])}

    # Every child state points at the tracking task run ...
    for state in client.read_flow_run_states(str(seen["child_id"])):
        assert str(state.state_details.task_run_id) == tracking_id
    # ... and the tracking task run's states point at the child and the parent.
    tracking_state = client.read_task_run(tracking_id).state
    assert tracking_state.type == StateType.COMPLETED
    assert str(tracking_state.state_details.child_flow_run_id) == str(seen["child_id"])
    assert str(tracking_state.state_details.flow_run_id) == str(seen["parent_id"])


# 60 ------------------------------------------------------------------------------------------
def test_60_dynamic_keys_count_per_task_and_tracking_tasks_use_one(client):
    @task(name="alpha")
    def alpha():
        return 1

    @task(name="beta")
    def beta():
        return 2

    @task(name="solo")
    def solo():
        return 3

    child_name = uniq("sub-60child")

    @flow(name=child_name)
    def child():
        alpha()
        return get_run_context().flow_run.id

    seen = {}

    @flow(name=uniq("sub-60"))
    def parent():
        solo()
        solo()
        solo()
        seen["child"] = child()
        alpha()
        beta()
        alpha()
        beta()
        seen["parent"] = get_run_context().flow_run.id

    parent()
    runs = task_runs(client, str(seen["parent"]))
    # 3 solo + 1 tracking task + 2 alpha + 2 beta
    assert len(runs) == 8
    by_task: dict[str, list[str]] = {}
    for run in runs:
        by_task.setdefault(run.name.rpartition("-")[0], []).append(str(run.dynamic_key))
    assert by_task["solo"] == ["0", "1", "2"]
    assert by_task["alpha"] == ["0", "1"]
    assert by_task["beta"] == ["0", "1"]
    for run in runs:
        assert run.name == f"{run.name.rpartition('-')[0]}-{run.dynamic_key}"

    # The subflow starts its own counter at 0.
    (child_task,) = task_runs(client, str(seen["child"]))
    assert str(child_task.dynamic_key) == "0"
    assert child_task.name == "alpha-0"


def test_60_alternating_tasks_get_keys_in_call_order(client):
    @task(name="left")
    def left():
        return "l"

    @task(name="right")
    def right():
        return "r"

    seen = {}

    @flow(name=uniq("sub-60alt"))
    def f():
        a = left()
        b = left()
        c = right()
        d = right()
        seen["id"] = get_run_context().flow_run.id
        return a + b + c + d

    assert f() == "llrr"
    keys = [(r.name, str(r.dynamic_key)) for r in client.read_task_runs(flow_run_id=str(seen["id"]))]
    assert sorted(k for _, k in keys) == ["0", "0", "1", "1"]


# 61 ------------------------------------------------------------------------------------------
def test_61_tags_contexts_apply_to_flows_subflows_and_tasks(client):
    @task(tags=["own"])
    def tagged():
        return get_run_context().task_run.id

    @flow(name=uniq("sub-61child"))
    def child():
        return get_run_context().flow_run.id, tagged()

    seen = {}

    @flow(name=uniq("sub-61"))
    def parent():
        seen["parent"] = get_run_context().flow_run.id
        with tags("c", "d"):
            seen["child"], seen["child_task"] = child()
            seen["task_in_cd"] = tagged()
        seen["task_plain"] = tagged()

    with tags("old"):
        pass  # an earlier, closed context must not carry over
    with tags("a", "b"):
        parent()

    assert set(client.read_flow_run(str(seen["parent"])).tags) == {"a", "b"}
    assert set(client.read_flow_run(str(seen["child"])).tags) == {"a", "b", "c", "d"}
    assert set(client.read_task_run(str(seen["task_in_cd"])).tags) == {"own", "a", "b", "c", "d"}
    assert set(client.read_task_run(str(seen["child_task"])).tags) == {"own", "a", "b", "c", "d"}
    assert set(client.read_task_run(str(seen["task_plain"])).tags) == {"own", "a", "b"}
