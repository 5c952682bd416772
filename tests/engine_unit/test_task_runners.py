"""Task runners as an interface: a runner written here receives every submission of its flow
run, is entered and left once per flow run, and the built-in runners keep their ordering."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from executor import _runtime as rtm
from executor import flow, task, task_runners
from executor._engine.calls import run_to_end
from executor.context import get_run_context
from executor.states import StateType
from executor.task_runners import (
    BaseTaskRunner,
    ConcurrentTaskRunner,
    SequentialTaskRunner,
    as_task_runner,
)

from .conftest import uniq


class RecordingRunner(ConcurrentTaskRunner):
    """Concurrent, but writes down what it sees in a journal shared by its duplicates."""

    def __init__(self, journal: list | None = None) -> None:
        super().__init__()
        self.journal = journal if journal is not None else []

    def duplicate(self) -> RecordingRunner:
        return RecordingRunner(self.journal)

    async def start(self) -> None:
        self.journal.append(("start", id(self)))
        await super().start()

    async def stop(self, exc: BaseException | None) -> None:
        self.journal.append(("stop", id(self)))
        await super().stop(exc)

    def submit(self, call):
        self.journal.append(("submit", call.task.name))
        return super().submit(call)

    async def submit_async(self, call):
        self.journal.append(("submit_async", call.task.name))
        return await super().submit_async(call)


class ThreadPerRunRunner(BaseTaskRunner):
    """Runs each submission its own way: a new thread that drives the run to its end."""

    def __init__(self, threads: list | None = None) -> None:
        self.threads = threads if threads is not None else []

    def duplicate(self) -> ThreadPerRunRunner:
        return ThreadPerRunRunner(self.threads)

    def submit(self, call):
        thread = threading.Thread(target=run_to_end, args=(call,), daemon=True)
        self.threads.append(thread)
        thread.start()
        return call.future


@task
def double(x):
    return 2 * x


@task
def add(x, y):
    return x + y


def _kinds(journal, kind):
    return [entry for entry in journal if entry[0] == kind]


def test_a_custom_runner_receives_every_submit_and_map_and_the_flow_completes():
    journal: list = []

    @flow(name=uniq("custom-runner"), task_runner=RecordingRunner(journal))
    def f():
        direct = double(1)  # a direct call does not go through the runner
        mapped = double.map([1, 2, 3])
        total = add.submit(mapped[0], mapped[2])
        return direct, [m.result() for m in mapped], total.result()

    assert f() == (2, [2, 4, 6], 8)
    assert _kinds(journal, "submit") == [("submit", "double")] * 3 + [("submit", "add")]
    starts, stops = _kinds(journal, "start"), _kinds(journal, "stop")
    assert len(starts) == len(stops) == 1 and starts[0][1] == stops[0][1]
    assert journal[0][0] == "start" and journal[-1][0] == "stop"


def test_the_runner_is_entered_once_per_flow_run_even_across_retries_and_per_subflow():
    journal: list = []
    attempts = []

    @flow(name=uniq("child"), task_runner=RecordingRunner(journal))
    def child():
        return double.submit(5).result()

    @flow(name=uniq("retrying"), retries=1, task_runner=RecordingRunner(journal))
    def parent():
        attempts.append(1)
        value = double.submit(1).result()
        if len(attempts) == 1:
            raise ValueError("first attempt fails")
        return value + child()

    assert parent() == 2 + 10
    starts, stops = _kinds(journal, "start"), _kinds(journal, "stop")
    assert len(starts) == len(stops) == 2  # the parent once (two attempts), the subflow once
    assert len({runner for _, runner in starts}) == 2  # each flow run has its own duplicate
    assert len(_kinds(journal, "submit")) == 3


def test_an_async_flow_submits_async_tasks_through_submit_async():
    journal: list = []

    @task
    async def triple(x):
        await asyncio.sleep(0)
        return 3 * x

    @flow(name=uniq("async-runner"), task_runner=RecordingRunner(journal))
    async def f():
        futures = await triple.map([1, 2])
        one = await triple.submit(3)
        return [await fut.result() for fut in futures] + [await one.result()]

    assert asyncio.run(f()) == [3, 6, 9]
    assert _kinds(journal, "submit_async") == [("submit_async", "triple")] * 3


def test_a_runner_that_runs_calls_its_own_way():
    threads: list = []

    @flow(name=uniq("thread-runner"), task_runner=ThreadPerRunRunner(threads))
    def f():
        futures = double.map([1, 2, 3])
        return add.submit(futures[0], futures[1]).result(), [fut.result() for fut in futures]

    assert f() == (6, [2, 4, 6])
    assert len(threads) == 4


def test_runner_wait_gives_the_final_state_or_none_after_its_timeout():
    @task
    def slow():
        time.sleep(0.3)
        return 1

    @flow(name=uniq("runner-wait"))
    def f():
        runner = get_run_context().task_runner
        future = slow.submit()
        early = rtm.get_runtime().run(runner.wait(future, timeout=0.01))
        final = rtm.get_runtime().run(runner.wait(future))
        return early, final.type, future.result()

    assert f() == (None, StateType.COMPLETED, 1)


@pytest.mark.parametrize(
    "runner, expected", [(SequentialTaskRunner, [0, 1, 2]), (ConcurrentTaskRunner, [2, 1, 0])]
)
def test_async_submissions_keep_the_runners_ordering(runner, expected):
    log: list[int] = []

    @task
    async def record_after(i, delay):
        await asyncio.sleep(delay)
        log.append(i)
        return i

    @flow(name=uniq("async-order"), task_runner=runner)
    async def f():
        futures = await record_after.map([0, 1, 2], [0.3, 0.15, 0.0])
        return [await fut.result() for fut in futures]

    assert asyncio.run(f()) == [0, 1, 2]
    assert log == expected


def test_admission_caps_the_runs_in_flight(monkeypatch):
    monkeypatch.setattr(task_runners, "MAX_IN_FLIGHT", 2)
    lock = threading.Lock()
    running, peak = [0], [0]

    @task
    def busy(i):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return i

    @flow(name=uniq("admission"))
    def f():
        return [fut.result() for fut in busy.map(range(6))]

    assert f() == list(range(6))
    assert peak[0] == 2


class FakeCall:
    def __init__(self, name: str) -> None:
        self.name = name
        self.future = object()


def test_leaving_the_concurrent_runner_never_drops_a_run(monkeypatch):
    ended: list[str] = []

    async def fake_run_task(call):
        await asyncio.sleep(0.05)
        ended.append(call.name)

    monkeypatch.setattr(task_runners, "run_task", fake_run_task)
    monkeypatch.setattr(task_runners, "MAX_IN_FLIGHT", 1)  # the later ones wait in the queue

    async def scenario():
        async with ConcurrentTaskRunner() as runner:
            for name in ("a", "b", "c"):
                runner.submit(FakeCall(name))
        assert ended == ["a", "b", "c"]  # a normal exit waits for what is still running or queued
        with pytest.raises(ValueError):
            async with ConcurrentTaskRunner() as runner:
                runner.submit(FakeCall("d"))
                await asyncio.sleep(0)
                raise ValueError("the flow run is torn down")
        assert "d" not in ended  # an error does not wait ...
        await asyncio.sleep(0.1)
        assert ended[-1] == "d"  # ... and does not drop the run either

    asyncio.run(scenario())


def test_runner_specs_identity_and_misuse():
    assert isinstance(as_task_runner(None), ConcurrentTaskRunner)
    assert isinstance(as_task_runner(SequentialTaskRunner), SequentialTaskRunner)
    given = SequentialTaskRunner()
    assert as_task_runner(given) is given
    with pytest.raises(TypeError, match="task_runner"):
        as_task_runner("concurrent")
    with pytest.raises(TypeError):
        BaseTaskRunner()  # submit is abstract
    assert ConcurrentTaskRunner() == ConcurrentTaskRunner() != SequentialTaskRunner()
    assert hash(SequentialTaskRunner()) == hash(SequentialTaskRunner())
    assert repr(SequentialTaskRunner()) == "SequentialTaskRunner()"
    assert (ConcurrentTaskRunner().name, SequentialTaskRunner().name) == ("concurrent", "sequential")
    original = ConcurrentTaskRunner()
    assert original.duplicate() == original and original.duplicate() is not original

    async def enter_twice():
        runner = ConcurrentTaskRunner()
        async with runner:
            with pytest.raises(RuntimeError, match="already in use"):
                async with runner:
                    pass

    asyncio.run(enter_twice())
    with pytest.raises(RuntimeError, match="not started"):
        ConcurrentTaskRunner().submit(object())
