"""An async flow whose caller stops waiting (an anyio cancel scope, a cancelled asyncio task)
does not stay Running: the run ends Crashed, as Prefect 2 reports it, and its on_crashed hooks
run."""

from __future__ import annotations

import asyncio

import anyio

from executor import flow
from executor.context import get_run_context
from executor.states import StateType

from ._util import uniq, wait_until


def _slow_flow(started: list, hooked: list):
    def on_crashed(flow, run, state):
        hooked.append(state.type)

    @flow(name=uniq("async-crash"), on_crashed=[on_crashed])
    async def slow():
        started.append(get_run_context().flow_run.id)
        await asyncio.sleep(30)

    return slow


def _assert_crashed(client, started: list, hooked: list) -> None:
    assert len(started) == 1
    run_id = started[0]
    assert wait_until(lambda: client.read_flow_run(run_id).state.type is StateType.CRASHED, timeout=5)
    assert "cancelled" in client.read_flow_run(run_id).state.message
    assert wait_until(lambda: hooked == [StateType.CRASHED], timeout=5), hooked


def test_an_async_flow_cancelled_by_an_anyio_scope_ends_crashed(client):
    started: list = []
    hooked: list = []
    slow = _slow_flow(started, hooked)

    async def main():
        with anyio.move_on_after(0.5):
            await slow()

    anyio.run(main)
    _assert_crashed(client, started, hooked)


def test_an_async_flow_whose_task_is_cancelled_ends_crashed(client):
    started: list = []
    hooked: list = []
    slow = _slow_flow(started, hooked)

    async def main():
        running = asyncio.ensure_future(slow())
        await asyncio.sleep(0.5)
        running.cancel()
        try:
            await running
        except asyncio.CancelledError:
            pass

    asyncio.run(main())
    _assert_crashed(client, started, hooked)
