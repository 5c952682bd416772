"""Tasks called, submitted or mapped inside another task, as Prefect 2.18+ runs them: each inner
call is a task run of the same flow run, its task_inputs name the task run it was called in
under "__parents__", the outer task gets its value, and its failures and retries are the inner
run's own, reaching the outer task as an exception would."""

from __future__ import annotations

import asyncio

import pytest

from executor import flow, task
from executor.context import TaskRunContext
from executor.states import StateType

from ._util import flow_run_id, ids, task_runs_named, uniq


def _parents(run) -> set[str]:
    return ids(run.task_inputs.get("__parents__", []))


def test_a_task_called_in_a_task_is_a_task_run_of_the_flow_run_linked_to_its_outer(client):
    @task(name="inner")
    def inner(x):
        return x + 1

    @task(name="outer")
    def outer(x):
        return inner(x) * 10, TaskRunContext.get().task_run.id

    @flow(name=uniq("nested-call"))
    def nested():
        return outer(1)

    state = nested(return_state=True)
    value, outer_id = state.result()
    assert value == 20
    run_id = flow_run_id(state)
    [inner_run] = task_runs_named(client, run_id, "inner")
    [outer_run] = task_runs_named(client, run_id, "outer")
    assert str(inner_run.flow_run_id) == run_id
    assert inner_run.state.type is StateType.COMPLETED
    assert _parents(inner_run) == {str(outer_run.id)} == {outer_id}
    assert _parents(outer_run) == set()


def test_submit_and_map_inside_a_task_run_and_link_to_it(client):
    @task(name="plus")
    def plus(x):
        return x + 1

    @task(name="fan")
    def fan(x):
        first = plus.submit(x)
        mapped = plus.map([first, 10])
        return [first.result(), *[m.result() for m in mapped]]

    @flow(name=uniq("nested-submit"))
    def nested():
        return fan.submit(1).result()

    state = nested(return_state=True)
    assert state.result() == [2, 3, 11]
    run_id = flow_run_id(state)
    [fan_run] = task_runs_named(client, run_id, "fan")
    inner_runs = task_runs_named(client, run_id, "plus")
    assert len(inner_runs) == 3
    assert all(_parents(r) == {str(fan_run.id)} for r in inner_runs)
    # The mapped call given the first inner future records it as its upstream too.
    first = next(r for r in inner_runs if r.dynamic_key == "0")
    assert any(str(first.id) in ids(r.task_inputs.get("x", [])) for r in inner_runs if r is not first)


def test_async_tasks_nest_in_async_tasks_and_sync_ones_in_them():
    @task
    async def times_ten(x):
        await asyncio.sleep(0)
        return x * 10

    @task
    def plus_one(x):
        return x + 1

    @task
    async def outer(x):
        called = await times_ten(x)
        submitted = await times_ten.submit(called)
        mapped = await times_ten.map([1, 2])
        return [called, await submitted.result(), *[await m.result() for m in mapped], plus_one(x)]

    @task
    def sync_outer(x):
        return times_ten(x)  # an async task called from sync code gives its value

    @flow(name=uniq("nested-async"))
    async def nested():
        return await outer(1), sync_outer(2)

    assert asyncio.run(nested()) == ([10, 100, 10, 20, 2], 20)


def test_an_inner_failure_reaches_the_outer_task_as_its_exception(client):
    @task(name="breaks")
    def breaks():
        raise ValueError("inner bad")

    @task(name="calls")
    def calls():
        return breaks()

    @flow(name=uniq("nested-fail"))
    def nested():
        return calls()

    state = nested(return_state=True)
    assert state.type is StateType.FAILED
    with pytest.raises(ValueError, match="inner bad"):
        state.result()
    run_id = flow_run_id(state)
    assert task_runs_named(client, run_id, "breaks")[0].state.type is StateType.FAILED
    assert task_runs_named(client, run_id, "calls")[0].state.type is StateType.FAILED


def test_inner_retries_are_the_inner_runs_own_and_an_outer_retry_calls_it_anew(client):
    attempts = {"flaky": 0, "once": 0}

    @task(name="flaky", retries=1)
    def flaky():
        attempts["flaky"] += 1
        if attempts["flaky"] == 1:
            raise RuntimeError("first try")
        return "inner ok"

    @task(name="once")
    def once():
        attempts["once"] += 1
        if attempts["once"] == 1:
            raise RuntimeError("outer's first try")
        return "second"

    @task(name="retrying_outer", retries=1)
    def retrying_outer():
        return flaky(), once()

    @flow(name=uniq("nested-retry"))
    def nested():
        return retrying_outer()

    state = nested(return_state=True)
    assert state.result() == ("inner ok", "second")
    run_id = flow_run_id(state)
    flaky_runs = task_runs_named(client, run_id, "flaky")
    # Retried within the outer's first attempt; the outer's second attempt makes a new run.
    assert [r.run_count for r in flaky_runs] == [2, 1]
    once_runs = task_runs_named(client, run_id, "once")
    assert [r.state.type for r in once_runs] == [StateType.FAILED, StateType.COMPLETED]
    [outer_run] = task_runs_named(client, run_id, "retrying_outer")
    assert outer_run.run_count == 2
    assert all(_parents(r) == {str(outer_run.id)} for r in [*flaky_runs, *once_runs])


def test_a_nested_failure_the_outer_handles_does_not_fail_the_flow():
    @task
    def breaks():
        raise ValueError("handled")

    @task
    def handles():
        return breaks(return_state=True).type.value

    @flow(name=uniq("nested-handled"))
    def nested():
        handles()  # returns None: the final state comes from the flow's own task runs

    state = nested(return_state=True)
    assert state.type is StateType.COMPLETED
