"""Async tasks in async flows, as Prefect 2 runs them: a sync task called with the future of an
async task gets its value (the async task does not need the flow's loop, which the sync call
blocks), and async task bodies run off the flow's loop."""

from __future__ import annotations

import asyncio
import threading
import time

from executor import flow, task

from ._util import uniq


@task
async def plus_one(x):
    return x + 1


@task
def doubled(m):
    return m * 2


def _finishes(fn, seconds: float = 20.0):
    """Run `fn` in a thread; its result, or a failure if it hangs."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert out, f"still running after {seconds} s: a deadlock"
    return out[0]


def test_a_sync_task_given_an_async_tasks_future_gets_its_value():
    @flow(name=uniq("async-then-sync"))
    async def mixed():
        m = await plus_one.submit(42)
        return doubled(m)

    assert _finishes(lambda: asyncio.run(mixed())) == 86


def test_the_same_in_an_async_subflow_of_a_sync_flow():
    @flow(name=uniq("async-sub"))
    async def inner():
        futures = [await plus_one.submit(i) for i in range(3)]
        return [doubled(f) for f in futures]

    @flow(name=uniq("sync-parent"))
    def outer():
        return inner()

    assert _finishes(outer) == [2, 4, 6]


def test_async_task_bodies_run_off_the_flows_loop():
    seen: dict = {}

    @task
    async def where():
        seen["task"] = asyncio.get_running_loop()

    @flow(name=uniq("loops"))
    async def flow_loop():
        seen["flow"] = asyncio.get_running_loop()
        await where()

    _finishes(lambda: asyncio.run(flow_loop()))
    assert seen["task"] is not seen["flow"]


@task
async def sleeps_blocking(seconds):
    time.sleep(seconds)  # blocks its own loop, not the other tasks'
    return seconds


def test_a_blocking_async_task_does_not_hold_up_the_others():
    @flow(name=uniq("async-blocking"))
    async def side_by_side():
        started = time.monotonic()
        futures = [await sleeps_blocking.submit(0.4) for _ in range(3)]
        gathered = await asyncio.gather(sleeps_blocking(0.4), sleeps_blocking(0.4))
        values = [await f.result() for f in futures] + list(gathered)
        return values, time.monotonic() - started

    values, took = _finishes(lambda: asyncio.run(side_by_side()))
    assert values == [0.4] * 5
    # Serialised they take 2.0 s; side by side about 0.8 s (two rounds) plus the engine's share.
    assert took < 1.5, took


def test_async_tasks_submitted_from_a_sync_flow_run_side_by_side():
    @flow(name=uniq("sync-async-blocking"))
    def side_by_side():
        started = time.monotonic()
        futures = [sleeps_blocking.submit(0.4) for _ in range(3)]
        return [f.result() for f in futures], time.monotonic() - started

    values, took = _finishes(side_by_side)
    assert values == [0.4] * 3
    assert took < 1.0, took
