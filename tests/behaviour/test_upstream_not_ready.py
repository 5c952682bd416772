"""Upstream failure: a task or subflow whose upstream did not complete is NotReady (futures and
states anywhere in its parameters, or in wait_for; chains of failures), and a subflow waiting on
a task that waits on it fails instead of deadlocking."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time

import pytest

from executor import flow, task
from executor.states import Cancelled, Completed, Failed, Pending, Running, StateType

from ._upstream import fails, identity
from ._util import ids, uniq

pytestmark = pytest.mark.timeout(30)


def upstream_message(task_run_id) -> str:
    return f"Upstream task run '{task_run_id}' did not reach a 'COMPLETED' state."


def assert_not_ready(state, upstream_id=None):
    assert state.type == StateType.PENDING, state
    assert state.name == "NotReady"
    if upstream_id is not None:
        assert state.message == upstream_message(upstream_id)


# 23 ------------------------------------------------------------------------------------------
def test_23_failed_upstream_makes_downstream_not_ready(client):
    calls = []

    @task
    def bar(x):
        calls.append(x)
        return x

    out = {}

    @flow(name=uniq("up-23"))
    def f():
        a = fails.submit()
        b = bar.submit(a)
        out.update(a=a.task_run_id, b=b.task_run_id, b_state=b.wait())
        return "done"

    assert f() == "done"
    assert calls == []
    assert_not_ready(out["b_state"], out["a"])
    stored = client.read_task_run(str(out["b"]))
    assert stored.state.type == StateType.PENDING
    assert stored.state.name == "NotReady"
    assert str(out["a"]) in stored.state.message


# 24 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make_upstream",
    [
        pytest.param(lambda: Pending(), id="pending"),
        pytest.param(lambda: Running(), id="running"),
        pytest.param(lambda: Cancelled(), id="cancelled"),
        pytest.param(lambda: Failed(), id="failed"),
    ],
)
def test_24_upstream_state_that_is_not_completed_blocks(make_upstream):
    calls = []

    @task
    def bar(x):
        calls.append(x)
        return x

    @flow(name=uniq("up-24"))
    def f():
        return bar(make_upstream(), return_state=True)

    inner = f(return_state=True).result(raise_on_failure=False)
    assert_not_ready(inner)
    assert calls == []


def test_24_completed_state_as_input_is_resolved_to_its_value():
    @flow(name=uniq("up-24c"))
    def f():
        return identity(Completed(data=5))

    assert f() == 5


def test_24_upstream_future_nested_deep_in_a_parameter_blocks():
    calls = []

    @task
    def bar(x):
        calls.append(x)
        return x

    out = {}

    @flow(name=uniq("up-24n"))
    def f():
        a = fails.submit()
        b = bar.submit({"nested": [a]})
        out.update(a=a.task_run_id, b_state=b.wait())
        return "done"

    f()
    assert_not_ready(out["b_state"], out["a"])
    assert calls == []


@dataclasses.dataclass
class Box:
    item: object
    label: str = "box"


def test_24_futures_nested_in_containers_and_dataclasses_become_values(client):
    seen = []

    @task
    def show(x):
        seen.append(x)
        return "seen"

    ids_ = {}

    @flow(name=uniq("up-24v"))
    def f():
        a = identity.submit(1)
        b = identity.submit("two")
        c = identity.submit(3.0)
        ids_["upstream"] = {str(a.task_run_id), str(b.task_run_id), str(c.task_run_id)}
        d = show.submit({"list": [a], "tuple": (b,), "set": {c}, "box": Box(item=a)})
        ids_["show"] = str(d.task_run_id)
        return d.result()

    assert f() == "seen"
    assert seen == [{"list": [1], "tuple": ("two",), "set": {3.0}, "box": Box(item=1)}]
    assert ids(client.read_task_run(ids_["show"]).task_inputs["x"]) == ids_["upstream"]


def test_24_failed_future_inside_a_dataclass_blocks():
    calls = []

    @task
    def bar(x):
        calls.append(x)

    out = {}

    @flow(name=uniq("up-24dc"))
    def f():
        a = fails.submit()
        out.update(a=a.task_run_id, b_state=bar.submit(Box(item=[a])).wait())
        return "done"

    f()
    assert_not_ready(out["b_state"], out["a"])
    assert calls == []


def test_24_upstream_cancelled_and_not_ready_futures_block():
    calls = []

    @task
    def cancels():
        return Cancelled(message="stop")

    @task
    def bar(x):
        calls.append(x)
        return x

    out = {}

    @flow(name=uniq("up-24cf"))
    def f():
        c = cancels.submit()
        blocked = bar.submit(c)  # NotReady: upstream Cancelled
        blocked_again = bar.submit(blocked)  # NotReady: upstream itself Pending/NotReady
        out.update(
            c=c.task_run_id,
            blocked=blocked.task_run_id,
            s1=blocked.wait(),
            s2=blocked_again.wait(),
        )
        return "done"

    f()
    assert_not_ready(out["s1"], out["c"])
    assert_not_ready(out["s2"], out["blocked"])
    assert calls == []


# 25 ------------------------------------------------------------------------------------------
def test_25_chain_of_failures_and_not_ready():
    @task
    def task_a():
        raise RuntimeError("a failed")

    @task
    def task_b():
        raise ValueError("b failed")

    @task
    def task_c(x):
        return x

    out = {}

    @flow(name=uniq("up-25"))
    def f():
        a = task_a.submit()
        b = task_b.submit()
        c = task_c.submit(b)
        d = task_c.submit(c)
        out.update(b=b.task_run_id, c=c.task_run_id)
        return a, b, c, d

    state = f(return_state=True)
    assert state.is_failed()
    a, b, c, d = state.result(raise_on_failure=False)
    with pytest.raises(RuntimeError, match="a failed"):
        a.result()
    with pytest.raises(ValueError, match="b failed"):
        b.result()
    assert_not_ready(c, out["b"])
    assert_not_ready(d, out["c"])


# 26 ------------------------------------------------------------------------------------------
def test_26_flow_returning_only_a_not_ready_future_fails():
    @flow(name=uniq("up-26"))
    def f():
        a = fails.submit()
        return identity.submit(a)

    state = f(return_state=True)
    assert state.is_failed()
    assert state.message == "1/1 states are not final."


# 27 ------------------------------------------------------------------------------------------
def test_27_task_with_failed_wait_for_is_not_ready():
    calls = []

    @task
    def bar(x):
        calls.append(x)
        return x

    out = {}

    @flow(name=uniq("up-27"))
    def f():
        a = fails.submit()
        out["a"] = a.task_run_id
        return bar(2, wait_for=[a], return_state=True)

    inner = f(return_state=True).result(raise_on_failure=False)
    assert_not_ready(inner, out["a"])
    assert calls == []


def test_27_subflow_with_failed_wait_for_is_not_ready():
    calls = []

    @flow(name=uniq("up-27child"))
    def child():
        calls.append(1)
        return 1

    @flow(name=uniq("up-27"))
    def parent():
        a = fails.submit()
        return child(wait_for=[a], return_state=True)

    child_state = parent(return_state=True).result(raise_on_failure=False)
    assert child_state.type == StateType.PENDING
    assert child_state.name == "NotReady"
    assert calls == []


# 34 ------------------------------------------------------------------------------------------
def test_34_subflow_waiting_on_task_that_waits_on_it_deadlocks_to_failed():
    @task
    async def waiter(event, delay):
        await asyncio.sleep(delay)
        if not event.is_set():
            raise RuntimeError("The event hasn't been set!")
        return "set"

    setter_called = []

    @flow(name=uniq("up-34child"))
    async def setter(event):
        setter_called.append(1)
        event.set()
        return 42

    @flow(name=uniq("up-34"))
    async def parent():
        event = threading.Event()
        fut = await waiter.submit(event, 0.3)
        return await setter(event, wait_for=[fut])

    started = time.monotonic()
    state = asyncio.run(parent(return_state=True))
    assert time.monotonic() - started < 3
    assert state.is_failed()
    assert "UnfinishedRun" in state.message
    assert setter_called == []
