"""Orchestration: tag concurrency limits, exercised with real tasks through WAIT: many waits
without recursion, one tagged task at a time, untagged tasks unlimited, a limit of zero aborts,
and a slot given back on timeout and while awaiting retry."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from executor import flow, task
from executor.context import get_run_context
from executor.states import StateType

from ._util import names, task_runs, uniq

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def limited_tag(client):
    """A tag with its own concurrency limit, deleted afterwards."""
    created = []

    def make(limit):
        tag = uniq("limit")
        client.create_concurrency_limit(tag, limit)
        created.append(tag)
        return tag

    yield make
    for tag in created:
        client.delete_concurrency_limit_by_tag(tag)


def active_slots(client, tag):
    return [str(s) for s in client.read_concurrency_limit_by_tag(tag).active_slots]


# 104 -----------------------------------------------------------------------------------------
def test_104_many_waits_do_not_recurse(client, limited_tag):
    # The session's orchestrator answers a run waiting for a slot with WAIT 0.01 s, so each
    # waiter below gets well over 100 WAITs while the holder keeps the only slot for 2 s.
    # Handled by recursion (a propose calling itself per WAIT), that many nested frames overflow
    # the lowered recursion limit; handled in a loop, the stack stays flat.
    tag = limited_tag(1)
    started = threading.Event()
    spans: dict[str, tuple[float, float]] = {}

    @task(tags=[tag])
    def holder():
        started.set()
        begin = time.monotonic()
        time.sleep(2.0)
        spans["holder"] = (begin, time.monotonic())

    @task(tags=[tag])
    def waiter(i):
        begin = time.monotonic()
        spans[f"waiter-{i}"] = (begin, time.monotonic())
        return i

    @flow(name=uniq("orch-104"))
    def f():
        h = holder.submit()
        assert started.wait(5)
        waiters = [waiter.submit(i) for i in range(2)]
        h.wait(5)
        return [w.result(timeout=5) for w in waiters]  # a lost waiter fails here, not by hanging

    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)  # the engine needs well under 100 frames on any thread
    try:
        assert f() == [0, 1]
    finally:
        sys.setrecursionlimit(old_limit)
    holder_end = spans["holder"][1]
    for i in range(2):
        assert spans[f"waiter-{i}"][0] >= holder_end - 0.01
    assert active_slots(client, tag) == []


# 105 -----------------------------------------------------------------------------------------
def test_105_tag_limit_of_one_runs_tagged_tasks_one_at_a_time(client, limited_tag):
    tag = limited_tag(1)
    spans: list[tuple[float, float]] = []
    slots_seen: list[list[str]] = []

    @task(tags=[tag])
    def limited(i):
        begin = time.monotonic()
        slots_seen.append(active_slots(client, tag) + [str(get_run_context().task_run.id)])
        time.sleep(0.15)
        spans.append((begin, time.monotonic()))
        return i

    seen = {}

    @flow(name=uniq("orch-105"))
    def f():
        seen["id"] = str(get_run_context().flow_run.id)
        return [fut.result() for fut in [limited.submit(i) for i in range(3)]]

    assert f() == [0, 1, 2]
    spans.sort()
    for (_, end), (begin, _) in zip(spans, spans[1:]):
        assert begin >= end - 0.01, spans  # never two at once
    for slots in slots_seen:
        holder, own = slots[:-1], slots[-1]
        assert holder == [own]  # the one slot is held by the running task itself
    assert active_slots(client, tag) == []  # every slot given back
    for run in task_runs(client, seen["id"]):
        # WAIT writes nothing: no extra states for the runs that had to wait.
        assert names(client.read_task_run_states(str(run.id))) == ["Pending", "Running", "Completed"]


def test_105_untagged_tasks_are_not_limited(limited_tag):
    limited_tag(1)  # a limit exists, on a tag these tasks do not carry
    spans: list[tuple[float, float]] = []

    @task
    def free(i):
        begin = time.monotonic()
        time.sleep(0.3)
        spans.append((begin, time.monotonic()))

    @flow(name=uniq("orch-105u"))
    def f():
        for fut in [free.submit(i) for i in range(2)]:
            fut.wait()

    f()
    spans.sort()
    assert spans[1][0] < spans[0][1]  # overlapped


# 106 -----------------------------------------------------------------------------------------
def test_106_limit_of_zero_aborts_and_the_task_never_runs(client, limited_tag):
    tag = limited_tag(0)
    calls = []

    @task(tags=[tag])
    def never():
        calls.append(1)

    @flow(name=uniq("orch-106z"))
    def f():
        state = never(return_state=True)
        return state.type, str(state.state_details.task_run_id)

    started = time.monotonic()
    state_type, trid = f()
    assert time.monotonic() - started < 2  # an ABORT, not an endless WAIT
    assert calls == []
    assert state_type == StateType.PENDING
    assert client.read_task_run(trid).state.type == StateType.PENDING


def test_106_timed_out_task_gives_its_slot_back(client, limited_tag):
    tag = limited_tag(1)
    ran = []

    @task(tags=[tag], timeout_seconds=0.1)
    def too_slow():
        time.sleep(0.8)

    @task(tags=[tag])
    def next_one():
        ran.append(time.monotonic())
        return "ran"

    @flow(name=uniq("orch-106t"))
    def f():
        slow = too_slow(return_state=True)
        timed_out_at = time.monotonic()
        return slow.name, next_one(), timed_out_at

    name, value, timed_out_at = f()
    assert name == "TimedOut"
    assert value == "ran"
    assert ran[0] - timed_out_at < 0.5  # not held until the slow thread finished
    assert active_slots(client, tag) == []


def test_106_slot_is_released_while_awaiting_retry(client, limited_tag):
    tag = limited_tag(1)
    attempts: list[float] = []
    first_failed = threading.Event()
    other: dict[str, float] = {}

    @task(tags=[tag], retries=1, retry_delay_seconds=0.8)
    def retrying():
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            first_failed.set()
            raise ValueError("first attempt")
        return "retried"

    @task(tags=[tag])
    def other_task():
        other["start"] = time.monotonic()
        return "other"

    @flow(name=uniq("orch-106r"))
    def f():
        r = retrying.submit()
        assert first_failed.wait(5)
        o = other_task.submit()
        return r.result(), o.result()

    assert f() == ("retried", "other")
    assert attempts[0] < other["start"] < attempts[1]  # ran during the retry delay
    assert active_slots(client, tag) == []
