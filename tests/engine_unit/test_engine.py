"""Engine behaviour end to end against the real orchestrator: answers honoured (ABORT, WAIT),
timeouts, crashes, subflows, retries, caching, results, logs, pause/resume, runners."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from executor import flow, get_run_logger, pause_flow_run, resume_flow_run, tags, task
from executor.context import get_run_context
from executor.exceptions import MissingResult, UnfinishedRun
from executor.states import Failed, StateType
from executor.task_runners import SequentialTaskRunner
from executor.tasks import task_input_hash

from .conftest import uniq


@task
def one():
    return 1


def _fid(state):
    return state.state_details.flow_run_id


def test_abort_stops_the_run_and_reads_back_the_stored_state(client):
    @flow(name=uniq("abort"))
    def f():
        # The flow run leaves RUNNING behind the engine's back: the task's Running proposal is
        # ABORTed ("enclosing flow must be running"), and the task keeps its stored state.
        client.set_flow_run_state(get_run_context().flow_run.id, Failed(message="elsewhere"), force=True)
        return one(return_state=True)

    state = f(return_state=True)
    task_state = state.result(raise_on_failure=False)
    assert task_state.type is StateType.PENDING
    with pytest.raises(UnfinishedRun):
        task_state.result()


def test_wait_answers_are_slept_in_a_loop_for_concurrency_slots(client):
    tag = uniq("slot")
    client.create_concurrency_limit(tag, 1)
    active, peak = [0], [0]
    lock = threading.Lock()

    @task(tags=[tag])
    def limited(i):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.03)
        with lock:
            active[0] -= 1
        return i

    @flow(name=uniq("slots"))
    def f():
        return [x.result() for x in limited.map(range(5))]

    try:
        assert f() == list(range(5))
        assert peak[0] == 1
        assert client.read_concurrency_limit_by_tag(tag).active_slots == []
    finally:
        client.delete_concurrency_limit_by_tag(tag)


def test_sync_task_timeout_fires_on_time_while_its_thread_runs_on():
    @task(timeout_seconds=0.1)
    def slow():
        time.sleep(1.5)

    @flow(name=uniq("task-timeout"))
    def f():
        return slow(return_state=True)

    started = time.monotonic()
    state = f(return_state=True).result(raise_on_failure=False)
    assert time.monotonic() - started < 1.0
    assert state.name == "TimedOut" and state.is_failed()
    assert "exceeded timeout of 0.1 seconds" in state.message
    with pytest.raises(TimeoutError):
        state.result()


def test_sync_flow_timeout_stops_the_body_at_its_next_task_call():
    ran = []

    @task
    def later():
        ran.append(1)

    @flow(name=uniq("flow-timeout"), timeout_seconds=0.2)
    def f():
        time.sleep(0.5)
        later()

    started = time.monotonic()
    state = f(return_state=True)
    assert time.monotonic() - started < 0.45
    assert state.name == "TimedOut" and state.is_failed() and not state.is_crashed()
    time.sleep(0.5)
    assert ran == []


def test_keyboard_interrupt_crashes_task_and_flow_and_is_reraised(client):
    seen = {}

    @task
    def interrupted():
        seen["task"] = get_run_context().task_run.id
        raise KeyboardInterrupt()

    @flow(name=uniq("kbi"))
    def f():
        seen["flow"] = get_run_context().flow_run.id
        interrupted()

    with pytest.raises(KeyboardInterrupt):
        f()
    for run in (client.read_task_run(seen["task"]), client.read_flow_run(seen["flow"])):
        assert run.state.type is StateType.CRASHED
        assert run.state.message == "Execution was aborted by an interrupt signal."


def test_sync_parent_gets_values_from_async_subflow_and_tracking_run(client):
    @flow(name="child-async")
    async def child(x):
        await asyncio.sleep(0)
        return x * 2

    @flow(name=uniq("parent"))
    def parent():
        return child(2), child(3, return_state=True)

    value, child_state = parent()
    assert value == 4 and child_state.result() == 6
    child_run = client.read_flow_run(_fid(child_state))
    tracking = client.read_task_run(child_run.parent_task_run_id)
    assert tracking.name == "child-async-1"
    assert child_state.state_details.task_run_id == tracking.id


def test_async_flow_with_sync_and_async_tasks_and_gather_of_subflows():
    @task
    async def adouble(x):
        await asyncio.sleep(0.01)
        return 2 * x

    @flow
    async def sub(i):
        return await adouble(i)

    @flow(name=uniq("async-parent"))
    async def parent():
        direct = one() + await adouble(1)
        futures = [await adouble.submit(i) for i in range(3)]
        values = [await fut.result() for fut in futures]
        subs = await asyncio.gather(*[sub(i) for i in range(4)])
        return direct, values, subs

    assert asyncio.run(parent()) == (3, [0, 2, 4], [0, 2, 4, 6])


def test_flow_retry_keeps_completed_children_and_reruns_failed_ones():
    calls = {"ok": 0, "flaky": 0, "body": 0}

    @task
    def ok():
        calls["ok"] += 1
        return "kept"

    @task
    def flaky():
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise ValueError("first time")
        return "second"

    @flow(name=uniq("retry"), retries=1)
    def f():
        calls["body"] += 1
        a = ok()
        b = flaky()
        return a, b

    assert f() == ("kept", "second")
    assert calls == {"ok": 1, "flaky": 2, "body": 2}


def test_cache_key_fn_hits_across_flow_runs():
    calls = []

    @task(cache_key_fn=task_input_hash)
    def expensive(x):
        calls.append(x)
        return x * 10

    @flow(name=uniq("cache"))
    def f(x):
        return expensive(x, return_state=True)

    first, second, other = f(1), f(1), f(2)
    assert (first.name, second.name, other.name) == ("Completed", "Cached", "Completed")
    assert second.result() == 10 and calls == [1, 2]


def test_results_read_back_from_the_api(client):
    @flow(name=uniq("kept"), persist_result=True, result_serializer="json")
    def kept():
        return {"a": [1, 2]}

    @flow(name=uniq("lost"))
    def lost():
        return {"b": 1}

    api_kept = client.read_flow_run(_fid(kept(return_state=True))).state
    assert api_kept.result() == {"a": [1, 2]}
    assert api_kept.result_ref.serializer == "json" and api_kept.result_ref.json == '{"a": [1, 2]}'
    api_lost = client.read_flow_run(_fid(lost(return_state=True))).state
    assert api_lost.result_ref.json == '{"b": 1}'
    with pytest.raises(MissingResult):
        api_lost.result()


def test_run_logs_and_log_prints_reach_the_orchestrator(client, capsys):
    @task(log_prints=True)
    def chatty():
        print("printed from a task")

    @flow(name=uniq("logs"))
    def f():
        get_run_logger().warning("logged by the flow")
        chatty()

    state = f(return_state=True)
    assert "printed from a task" not in capsys.readouterr().out
    messages = {(entry.level, entry.message) for entry in client.read_logs(_fid(state))}
    assert (30, "logged by the flow") in messages
    assert (20, "printed from a task") in messages


def test_pause_is_resumed_from_another_thread_through_the_orchestrator(client):
    seen = {}

    def resumer():
        while "id" not in seen:
            time.sleep(0.01)
        while client.read_flow_run(seen["id"]).state.type is not StateType.PAUSED:
            time.sleep(0.01)
        resume_flow_run(seen["id"])

    @flow(name=uniq("pause"))
    def f():
        seen["id"] = get_run_context().flow_run.id
        pause_flow_run(timeout=10, poll_interval=0.05)
        return one()

    thread = threading.Thread(target=resumer, daemon=True)
    thread.start()
    started = time.monotonic()
    assert f() == 1
    assert time.monotonic() - started < 5
    names = [s.name for s in client.read_flow_run_states(seen["id"])]
    assert "Paused" in names and names[-1] == "Completed"


def test_sequential_runner_runs_submissions_in_order_and_tags_apply(client):
    order = []

    @task(tags=["own"])
    def record(i):
        time.sleep(0.01 * (3 - i))
        order.append(i)
        return i

    @flow(name=uniq("seq"), task_runner=SequentialTaskRunner())
    def f():
        with tags("ctx"):
            futures = record.map([0, 1, 2])
        return futures

    state = f(return_state=True)
    assert order == [0, 1, 2]
    runs = client.read_task_runs(flow_run_id=_fid(state))
    assert all(set(r.tags) == {"own", "ctx"} for r in runs)


def test_future_wait_timeout_and_task_run_id():
    @task
    def slow():
        time.sleep(0.2)
        return 5

    @flow(name=uniq("futures"))
    def f():
        fut = slow.submit()
        assert fut.wait(0.01) is None
        assert isinstance(fut.task_run_id, str)
        return fut.result()

    assert f() == 5


def test_task_outside_flow_raises():
    with pytest.raises(RuntimeError, match="outside of a flow"):
        one()


def test_task_result_storage_and_serializer(tmp_path, client):
    @task(persist_result=True, result_storage=str(tmp_path), result_serializer="json")
    def produce():
        return {"rows": 3}

    @flow(name=uniq("task-storage"))
    def f():
        return produce(return_state=True)

    state = f()
    api_state = client.read_task_run(state.state_details.task_run_id).state
    assert api_state.result() == {"rows": 3}
    files = list(tmp_path.iterdir())
    # The JSON text, behind the signed header every result file carries.
    assert len(files) == 1 and files[0].read_bytes().endswith(b'{"rows": 3}')
    assert files[0].read_bytes().startswith(b"\x89CDZ\x01\x04json")
