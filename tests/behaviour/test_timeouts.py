"""Timeouts of flows, subflows and tasks: Failed "TimedOut", promptly; a TimeoutError of the
user's own is a plain failure; a timed-out body stops at its next task call or await; a
timed-out task blocks its downstream. Sleeps are scaled down; "promptly" is measured."""

from __future__ import annotations

import asyncio
import time

import pytest

from executor import flow, task
from executor.states import StateType

from ._util import uniq, wait_until

pytestmark = pytest.mark.timeout(30)


def assert_timed_out(state, seconds, kind="Flow"):
    assert state.type == StateType.FAILED, state
    assert state.name == "TimedOut"
    assert not state.is_crashed()
    assert f"exceeded timeout of {seconds} seconds" in state.message
    assert state.message.startswith(f"{kind} run exceeded timeout")
    with pytest.raises(TimeoutError):
        state.result()


# 75 ------------------------------------------------------------------------------------------
def test_75_sync_flow_timeout_is_failed_timed_out_and_prompt():
    @flow(name=uniq("to-75"), timeout_seconds=0.1)
    def f():
        time.sleep(1)
        return "too late"

    started = time.monotonic()
    state = f(return_state=True)
    assert time.monotonic() - started < 0.8
    assert_timed_out(state, 0.1)
    with pytest.raises(TimeoutError):
        f()


def test_75_async_flow_timeout_is_failed_timed_out_and_prompt():
    @flow(name=uniq("to-75a"), timeout_seconds=0.1)
    async def f():
        await asyncio.sleep(1)
        return "too late"

    started = time.monotonic()
    state = asyncio.run(f(return_state=True))
    assert time.monotonic() - started < 0.8
    assert_timed_out(state, 0.1)


# 76 ------------------------------------------------------------------------------------------
def test_76_user_timeout_error_is_a_plain_failure():
    @flow(name=uniq("to-76"))
    def f():
        raise TimeoutError("Oh no!")

    state = f(return_state=True)
    assert state.type == StateType.FAILED
    assert state.name == "Failed"
    assert "exceeded timeout" not in state.message
    with pytest.raises(TimeoutError, match="Oh no!"):
        state.result()


# 77 ------------------------------------------------------------------------------------------
def test_77_sync_flow_body_stops_at_its_next_task_call():
    ran = []
    reached = []

    @task
    def after_timeout():
        ran.append(1)

    @flow(name=uniq("to-77"), timeout_seconds=0.2)
    def f():
        time.sleep(0.6)
        reached.append(1)
        after_timeout()
        reached.append(2)

    started = time.monotonic()
    state = f(return_state=True)
    assert time.monotonic() - started < 0.55  # did not wait for the body
    assert state.name == "TimedOut"

    wait_until(lambda: reached, timeout=2)  # the body's thread goes on to its next task call
    time.sleep(0.3)
    assert reached == [1]  # the task call raised ...
    assert ran == []  # ... and the task never ran


def test_77_async_flow_body_stops_at_its_next_await():
    reached = []

    @flow(name=uniq("to-77a"), timeout_seconds=0.2)
    async def f():
        await asyncio.sleep(0.6)
        reached.append(1)

    state = asyncio.run(f(return_state=True))
    assert state.name == "TimedOut"
    time.sleep(0.6)
    assert reached == []


def test_77_subflow_timeout_fails_only_the_subflow():
    @flow(name=uniq("to-77child"), timeout_seconds=0.2)
    def child():
        time.sleep(1.2)
        return "too late"

    seen = {}

    @flow(name=uniq("to-77p"))
    def parent():
        started = time.monotonic()
        seen["child"] = child(return_state=True)
        seen["elapsed"] = time.monotonic() - started
        return "parent fine"

    state = parent(return_state=True)
    assert state.is_completed()
    assert state.result() == "parent fine"
    assert seen["elapsed"] < 0.8
    assert_timed_out(seen["child"], 0.2)


def test_77_subflow_timeout_clock_starts_after_its_wait_for():
    @task
    def slow_upstream():
        time.sleep(0.5)
        return "up"

    @flow(name=uniq("to-77wchild"), timeout_seconds=0.3)
    def child():
        time.sleep(0.1)
        return "child ok"

    @flow(name=uniq("to-77w"))
    def parent():
        up = slow_upstream.submit()
        return child(wait_for=[up])

    assert parent() == "child ok"


# 78 ------------------------------------------------------------------------------------------
def test_78_task_timeout_is_failed_timed_out_and_blocks_downstream():
    @task(timeout_seconds=0.1)
    def too_slow():
        time.sleep(1)
        return "too late"

    @task
    def downstream(x):
        return x

    @task
    def independent():
        return "independent"

    seen = {}

    @flow(name=uniq("to-78"))
    def f():
        started = time.monotonic()
        slow = too_slow.submit()
        down = downstream.submit(slow)
        ind = independent.submit()
        seen["slow"] = slow.wait()
        seen["elapsed"] = time.monotonic() - started
        seen["down"] = down.wait()
        seen["ind"] = ind.wait()
        return slow, down, ind

    state = f(return_state=True)
    assert seen["elapsed"] < 0.8  # the sync task's timeout fired on time
    assert_timed_out(seen["slow"], 0.1, kind="Task")
    assert seen["down"].type == StateType.PENDING and seen["down"].name == "NotReady"
    assert seen["ind"].is_completed()
    assert state.is_failed() and not state.is_crashed()


def test_78_task_within_its_timeout_completes():
    @task(timeout_seconds=100)
    def quick():
        time.sleep(0.2)
        return "done"

    @flow(name=uniq("to-78ok"))
    def f():
        return quick()

    assert f() == "done"


def test_78_async_task_timeout():
    @task(timeout_seconds=0.1)
    async def too_slow():
        await asyncio.sleep(1)

    seen = {}

    @flow(name=uniq("to-78a"))
    async def f():
        started = time.monotonic()
        seen["state"] = await too_slow(return_state=True)
        seen["elapsed"] = time.monotonic() - started
        return "flow done"

    assert asyncio.run(f()) == "flow done"
    assert seen["elapsed"] < 0.8
    assert_timed_out(seen["state"], 0.1, kind="Task")
