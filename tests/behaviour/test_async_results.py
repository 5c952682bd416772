"""Results in async code, as Prefect 2 gives them: `state.result(fetch=True)` is an awaitable
where the calling code is async (an async flow or task, or async code outside any run) and the
value in sync code; futures of async tasks in async code give awaitables whose timeouts end as
Prefect's do (`wait` gives None, `result` raises TimeoutError) without cancelling the run."""

from __future__ import annotations

import asyncio
import inspect

import anyio
import pytest

from executor import flow, quote, task

from ._util import uniq


@task
async def forty_two():
    return 42


@task
async def slow(x):
    await asyncio.sleep(0.3)
    return x


@task
def sync_breaks():
    raise ValueError("sync bad")


def test_fetching_a_state_in_an_async_flow_gives_an_awaitable_of_its_value():
    @flow(name=uniq("fetch-async"))
    async def fetches():
        state = await forty_two(return_state=True)
        fetched = state.result(fetch=True)
        assert inspect.isawaitable(fetched)
        failed = sync_breaks(return_state=True)
        with pytest.raises(ValueError, match="sync bad"):
            await failed.result(fetch=True)
        error = await failed.result(fetch=True, raise_on_failure=False)
        return await fetched, state.result(), type(error).__name__

    assert asyncio.run(fetches()) == (42, 42, "ValueError")


def test_fetching_in_sync_code_gives_the_value():
    @task
    def in_sync_task(state):
        return state.result(fetch=True)

    @flow(name=uniq("fetch-sync"))
    def fetches():
        state = forty_two(return_state=True)
        return state.result(fetch=True), in_sync_task(quote(state))  # quoted: the state itself

    assert fetches() == (42, 42)
    assert fetches(return_state=True).result(fetch=True) == (42, 42)


def test_fetching_a_persisted_flow_result_outside_any_run(client):
    @flow(name=uniq("fetch-persisted"), persist_result=True)
    async def persisted():
        return {"rows": 3}

    async def main():
        state = await persisted(return_state=True)
        stored = client.read_flow_run(str(state.state_details.flow_run_id)).state
        assert not stored.has_data()  # only the reference: fetching reads the result file
        return await state.result(fetch=True), await stored.result(fetch=True)

    assert asyncio.run(main()) == ({"rows": 3}, {"rows": 3})


def test_an_async_future_times_out_without_ending_its_run():
    @flow(name=uniq("future-timeouts"))
    async def waits():
        future = await slow.submit(7)
        assert await future.wait(0.01) is None
        with pytest.raises(TimeoutError):
            await future.result(timeout=0.01)
        state = await future.wait(5)
        return state.type.value, await future.result()

    assert asyncio.run(waits()) == ("COMPLETED", 7)
    assert anyio.run(waits) == ("COMPLETED", 7)


def test_the_same_in_an_async_subflow_and_in_an_async_task():
    @task
    async def outer():
        future = await slow.submit(3)
        assert await future.wait(0.01) is None
        with pytest.raises(TimeoutError):
            await future.result(timeout=0.01)
        return await future.result()

    @flow(name=uniq("future-timeouts-sub"))
    async def child():
        future = await slow.submit(5)
        assert await future.wait(0.01) is None
        return await future.result(), await outer()

    @flow(name=uniq("future-timeouts-parent"))
    def parent():
        return child()

    assert parent() == (5, 3)


def test_a_sync_tasks_future_in_an_async_flow_is_sync():
    @task
    def plain():
        return "plain"

    @flow(name=uniq("sync-future"))
    async def mixed():
        future = plain.submit()
        assert not future.asynchronous
        return future.result()

    assert asyncio.run(mixed()) == "plain"
