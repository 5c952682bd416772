"""Calling flows and tasks: sync and async, return_state, parameters coerced and passed back,
where a task or flow may be called, and what a call gives back (values, states, generators as
lists, hand-built failed states, results linked to the task that produced them)."""

from __future__ import annotations

import asyncio
import inspect

import pydantic
import pytest

from executor import flow, task
from executor.states import State, StateType

from ._util import all_input_ids, flow_run_id, task_runs, task_runs_named, uniq

pytestmark = pytest.mark.timeout(30)


# 1 -------------------------------------------------------------------------------------------
def test_01_sync_flow_returns_value_and_records_parameters(client):
    @flow(name=uniq("calls-01"), version="1.2.3")
    def f(x, y=3, z=3):
        return x + y + z

    assert f(1, 2) == 6

    state = f(1, 2, return_state=True)
    run = client.read_flow_run(flow_run_id(state))
    assert run.parameters == {"x": 1, "y": 2, "z": 3}  # defaults filled in


def test_01_flow_version_is_recorded(client):
    @flow(name=uniq("calls-01v"), version="1.2.3")
    def f(x):
        return x

    state = f(1, return_state=True)
    run = client.read_flow_run(flow_run_id(state))
    assert run.flow_version == "1.2.3"


# 2 -------------------------------------------------------------------------------------------
def test_02_async_flow_awaited_returns_value():
    @flow(name=uniq("calls-02"))
    async def f(x, y=3, z=3):
        await asyncio.sleep(0)
        return x + y + z

    coro = f(1, 2)
    assert inspect.isawaitable(coro)
    assert asyncio.run(coro) == 6


# 3 -------------------------------------------------------------------------------------------
def test_03_return_state_gives_a_completed_state():
    @flow(name=uniq("calls-03"))
    def f(x, y=3, z=3):
        return x + y + z

    state = f(1, 2, return_state=True)
    assert isinstance(state, State)
    assert state.type == StateType.COMPLETED
    assert state.is_completed() and state.is_final()
    assert state.name == "Completed"
    assert state.result() == 6


def test_03_async_return_state():
    @flow(name=uniq("calls-03a"))
    async def f(x):
        return x * 2

    state = asyncio.run(f(21, return_state=True))
    assert isinstance(state, State)
    assert state.result() == 42


# 4 -------------------------------------------------------------------------------------------
class Model(pydantic.BaseModel):
    z: int


def test_04_parameters_are_coerced_from_type_hints():
    seen = {}

    @flow(name=uniq("calls-04"))
    def f(x: int, y: list[int], zt: Model):
        seen.update(x=x, y=y, zt=zt)
        return x + sum(y) + zt.z

    assert f("1", ["2", "3"], {"z": 4}) == 10
    assert seen["x"] == 1 and isinstance(seen["x"], int)
    assert seen["y"] == [2, 3]
    assert isinstance(seen["zt"], Model)


# 5 -------------------------------------------------------------------------------------------
def test_05_varargs_are_passed_back_as_given():
    @flow(name=uniq("calls-05"))
    def f(*args, z):
        return args, z

    assert f(1, 2, 3, z=4) == ((1, 2, 3), 4)


def test_05_varkwargs_are_passed_back_as_given():
    @flow(name=uniq("calls-05k"))
    def f(x, **kwargs):
        return x, kwargs

    assert f(1, a=2, b="three") == (1, {"a": 2, "b": "three"})


# 6 -------------------------------------------------------------------------------------------
def test_06_sync_task_in_sync_flow_returns_raw_value():
    @task
    def one():
        return 1

    @flow(name=uniq("calls-06"))
    def f():
        value = one()
        assert not isinstance(value, State)
        return value

    assert f() == 1


# 7 -------------------------------------------------------------------------------------------
def test_07_async_task_awaited_in_async_flow():
    @task
    async def one():
        await asyncio.sleep(0)
        return 1

    @flow(name=uniq("calls-07a"))
    async def f():
        return await one()

    assert asyncio.run(f()) == 1


def test_07_sync_task_in_async_flow_needs_no_await():
    @task
    def one():
        return 1

    @flow(name=uniq("calls-07b"))
    async def f():
        value = one()
        assert not inspect.isawaitable(value)
        return value

    assert asyncio.run(f()) == 1


def test_07_async_task_in_sync_flow_gives_value_not_coroutine():
    @task
    async def one():
        await asyncio.sleep(0)
        return 1

    @flow(name=uniq("calls-07c"))
    def f():
        value = one()
        assert not inspect.isawaitable(value)
        return value

    assert f() == 1


# 8 -------------------------------------------------------------------------------------------
def test_08_task_called_outside_flow_raises_runtime_error():
    called = []

    @task
    def t():
        called.append(1)
        return 1

    with pytest.raises(RuntimeError, match="outside of a flow"):
        t()
    with pytest.raises(RuntimeError, match="outside of a flow"):
        t.submit()
    with pytest.raises(RuntimeError, match="outside of a flow"):
        t.map([1, 2])
    assert called == []


# 9 -------------------------------------------------------------------------------------------
def test_09_task_called_inside_task_runs_it():
    # Prefect 2.18+ runs nested tasks (tests/behaviour/test_nested_tasks.py has the details).
    inner_called = []

    @task
    def inner():
        inner_called.append(1)
        return 1

    @task
    def outer():
        return inner()

    @flow(name=uniq("calls-09t"))
    def f():
        return outer()

    assert f() == 1
    assert inner_called == [1]


def test_09_flow_called_inside_task_raises_runtime_error():
    child_called = []

    @flow(name=uniq("calls-09child"))
    def child():
        child_called.append(1)
        return 1

    @task
    def outer():
        return child()

    @flow(name=uniq("calls-09f"))
    def f():
        return outer()

    with pytest.raises(RuntimeError, match="Flows cannot be run from within tasks"):
        f()
    assert child_called == []


# 10 ------------------------------------------------------------------------------------------
def test_10_task_return_state_inside_flow():
    @task
    def one():
        return 1

    @flow(name=uniq("calls-10"))
    def f():
        state = one(return_state=True)
        assert isinstance(state, State)
        assert state.is_completed()
        return state.result()

    assert f() == 1


# 11 ------------------------------------------------------------------------------------------
def test_11_generator_task_result_is_a_list():
    @task
    def gen():
        yield 1
        yield 2
        yield 3

    @flow(name=uniq("calls-11"))
    def f():
        return gen()

    assert f() == [1, 2, 3]


# 12 ------------------------------------------------------------------------------------------
def test_12_task_returning_hand_built_failed_state(client):
    @task
    def t():
        return State(type=StateType.FAILED, message="m", data=True)

    @flow(name=uniq("calls-12"))
    def f():
        state = t(return_state=True)
        return {"state": state, "id": str(state.state_details.task_run_id)}

    out = f()
    state = out["state"]
    assert state.is_failed()
    assert state.message == "m"
    assert state.result(raise_on_failure=False) is True

    stored = client.read_task_run(out["id"])
    assert stored.state.type == StateType.FAILED
    assert stored.state.message == "m"


def test_12_task_returning_failed_shortcut_state():
    from executor.states import Failed

    @task
    def t():
        return Failed(message="m", data=True)

    @flow(name=uniq("calls-12b"))
    def f():
        state = t(return_state=True)
        return state.type, state.message, state.result(raise_on_failure=False)

    assert f() == (StateType.FAILED, "m", True)


# 13 ------------------------------------------------------------------------------------------
def test_13_result_passed_by_value_is_linked_to_its_task(client):
    @task(name="foo")
    def foo(x):
        return x  # identity: the very object comes back

    @task(name="bar")
    def bar(x):
        return x + 1

    @flow(name=uniq("calls-13"))
    def f(n: int):
        return bar(foo(n))

    big = 1_000_001  # not a small-int singleton, so it can be linked by object identity
    state = f(big, return_state=True)
    assert state.result() == big + 1

    fid = flow_run_id(state)
    (foo_run,) = task_runs_named(client, fid, "foo")
    (bar_run,) = task_runs_named(client, fid, "bar")
    assert str(foo_run.id) in {str(i.id) for i in bar_run.task_inputs["x"]}


def test_13_string_result_linked_across_tasks(client):
    @task(name="name")
    def name():
        return "Fred" + "!" * 3

    @task(name="say_hi")
    def say_hi(who):
        return f"Hi {who}"

    @flow(name=uniq("calls-13s"))
    def f():
        return say_hi(name())

    state = f(return_state=True)
    assert state.result() == "Hi Fred!!!"
    runs = task_runs(client, flow_run_id(state))
    by_name = {r.name.rpartition("-")[0]: r for r in runs}
    assert str(by_name["name"].id) in all_input_ids(by_name["say_hi"])


# 14 ------------------------------------------------------------------------------------------
@pytest.mark.skip(
    reason="Prefect's object registry that blocks code execution while a script loads has "
    "no public equivalent in Cadenza's API"
)
def test_14_flow_call_while_registry_blocks_execution_returns_none():
    pass
