"""submit() and futures: a future or a state per submission, sync futures of async tasks,
wait() and result() with timeouts, failed submitted and called tasks, and wait_for, which
orders runs and is recorded among their inputs."""

from __future__ import annotations

import asyncio
import inspect
import time

import pytest

from executor import flow, task
from executor.states import State, StateType

from ._util import flow_run_id, ids, uniq

pytestmark = pytest.mark.timeout(30)


@task
def identity(x):
    return x


@task
def boom():
    raise ValueError("boom")


# 15 ------------------------------------------------------------------------------------------
def test_15_submit_returns_a_future_and_returning_it_gives_the_state():
    seen = {}

    @flow(name=uniq("fut-15"))
    def f():
        fut = identity.submit(1)
        seen["is_state"] = isinstance(fut, State)
        seen["awaitable"] = inspect.isawaitable(fut)
        seen["task_run_id"] = fut.task_run_id
        return fut

    out = f()
    assert seen["is_state"] is False and seen["awaitable"] is False
    assert seen["task_run_id"]
    # The flow's return value is the task's State, not the future.
    assert isinstance(out, State)
    assert out.is_completed()
    assert out.result() == 1
    assert str(out.state_details.task_run_id) == str(seen["task_run_id"])


# 16 ------------------------------------------------------------------------------------------
def test_16_submit_with_return_state_gives_a_state():
    @flow(name=uniq("fut-16"))
    def f():
        state = identity.submit(1, return_state=True)
        assert isinstance(state, State)
        return state.result()

    assert f() == 1


# 17 ------------------------------------------------------------------------------------------
def test_17_async_task_submitted_from_sync_flow_gives_sync_future():
    @task
    async def aone():
        await asyncio.sleep(0.01)
        return 1

    @flow(name=uniq("fut-17"))
    def f():
        fut = aone.submit()
        assert not inspect.isawaitable(fut)
        value = fut.result()
        assert not inspect.isawaitable(value)
        return value

    assert f() == 1


def test_17_async_task_submitted_in_async_flow_is_awaited_for_the_future():
    @task
    async def aone():
        await asyncio.sleep(0.01)
        return 1

    seen = {}

    @flow(name=uniq("fut-17a"))
    async def f():
        fut = await aone.submit()
        seen["task_run_id"] = fut.task_run_id
        return fut

    state = asyncio.run(f())
    assert seen["task_run_id"]
    assert isinstance(state, State)
    assert state.result() == 1


# 18 ------------------------------------------------------------------------------------------
def test_18_future_wait_returns_final_state_or_none_on_timeout():
    @task
    def slow():
        time.sleep(0.4)
        return "done"

    @flow(name=uniq("fut-18"))
    def f():
        fut = slow.submit()
        early = fut.wait(0.01)
        later = fut.wait(5)
        again = fut.wait()
        return early, later, again

    early, later, again = f()
    assert early is None
    assert isinstance(later, State) and later.is_completed()
    assert later.result() == "done"
    assert isinstance(again, State) and again.is_final()


# 19 ------------------------------------------------------------------------------------------
def test_19_future_result_timeout_raises_timeout_error():
    @task
    def slow():
        time.sleep(0.4)
        return 1

    @flow(name=uniq("fut-19t"))
    def f():
        fut = slow.submit()
        with pytest.raises(TimeoutError):
            fut.result(timeout=0.01)
        return fut.result()

    assert f() == 1


def test_19_future_result_raises_the_task_error_or_returns_it():
    @flow(name=uniq("fut-19e"))
    def f():
        fut = boom.submit()
        with pytest.raises(ValueError, match="boom"):
            fut.result()
        exc = fut.result(raise_on_failure=False)
        return exc

    exc = f()
    assert isinstance(exc, ValueError)
    assert str(exc) == "boom"


# 20 ------------------------------------------------------------------------------------------
def test_20_failed_submitted_task_and_returned_value_means_completed():
    @flow(name=uniq("fut-20"))
    def f():
        boom.submit()
        return "bar"

    state = f(return_state=True)
    assert state.is_completed()
    assert state.result() == "bar"


# 21 ------------------------------------------------------------------------------------------
def test_21_directly_called_task_error_rises_in_flow():
    after = []

    @flow(name=uniq("fut-21"))
    def f():
        boom()
        after.append(1)
        return "unreachable"

    with pytest.raises(ValueError, match="boom"):
        f()
    assert after == []

    state = f(return_state=True)
    assert state.is_failed()
    assert state.message.startswith("Flow run encountered an exception.")
    assert "ValueError: boom" in state.message


# 22 ------------------------------------------------------------------------------------------
def test_22_wait_for_orders_runs_and_is_recorded_in_task_inputs(client):
    events: list[tuple[str, float]] = []

    @task
    def slow(label, delay):
        time.sleep(delay)
        events.append((f"{label}-end", time.monotonic()))
        return label

    @task
    def after(x):
        events.append(("c-start", time.monotonic()))
        return x

    ids_ = {}

    @flow(name=uniq("fut-22"))
    def f():
        a = slow.submit("a", 0.3)
        b = slow.submit("b", 0.2)
        d = identity.submit("data")
        c = after.submit(x=d, wait_for=[a, b])
        ids_.update(a=a.task_run_id, b=b.task_run_id, c=c.task_run_id, d=d.task_run_id)
        return c.result()

    assert f() == "data"
    times = dict(events)
    assert times["c-start"] >= times["a-end"]
    assert times["c-start"] >= times["b-end"]

    c_run = client.read_task_run(str(ids_["c"]))
    assert ids(c_run.task_inputs["wait_for"]) == {str(ids_["a"]), str(ids_["b"])}
    assert ids(c_run.task_inputs["x"]) == {str(ids_["d"])}


def test_22_wait_for_with_no_data_starts_only_after_upstreams(client):
    order = []

    @task
    def first():
        time.sleep(0.2)
        order.append("first")

    @task
    def second():
        order.append("second")

    @flow(name=uniq("fut-22b"))
    def f():
        a = first.submit()
        second.submit(wait_for=[a]).wait()

    state = f(return_state=True)
    assert state.is_completed()
    assert order == ["first", "second"]
    assert state.type == StateType.COMPLETED
    assert flow_run_id(state)


def test_async_wait_and_result_with_a_timeout_give_none_and_timeouterror_then_the_value():
    # A waiter that gives up must not cancel what the other waiters (and the flow) wait on.
    @task
    async def slow(x):
        await asyncio.sleep(0.5)
        return x

    @flow(name=uniq("futures-timeouts"))
    async def f():
        future = await slow.submit(7)
        waited = await future.wait(0.01)
        try:
            await future.result(timeout=0.01)
            timed_out = False
        except TimeoutError:
            timed_out = True
        return waited, timed_out, await future.result()

    assert asyncio.run(f()) == (None, True, 7)


def test_future_used_as_a_bool_warns_and_is_true():
    futures = []

    @flow(name=uniq("fut-bool"))
    def host():
        futures.append(identity.submit(0))

    host()
    with pytest.warns(UserWarning, match="was cast to a boolean; did you mean to check the result"):
        truth = bool(futures[0])
    assert truth is True  # even though the task's result, 0, is falsy
