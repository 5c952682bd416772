"""M. Orchestration scenarios exercised through the engine (scenarios 103-114).

Scheduled WAITs come from Scheduled states that a run hands back as its final state (the
orchestrator accepts the non-final state, the engine proposes Running again and must honour the
WAIT until the scheduled time); other rules are driven with the client's set_flow_run_state; tag
concurrency limits are exercised with real tasks through WAIT.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from executor import flow, task
from executor.context import get_run_context
from executor.states import Cancelled, Completed, Failed, Paused, Pending, Running, Scheduled, State, StateType

from ._deployments import deployments  # noqa: F401 (a fixture)
from ._util import flow_run_id, names, task_runs, uniq, wait_until

pytestmark = pytest.mark.timeout(30)


def now():
    return datetime.now(timezone.utc)


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


# 103 -----------------------------------------------------------------------------------------
def test_103_task_scheduled_ahead_waits_then_runs(client):
    calls: list[float] = []

    @task
    def later():
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Scheduled(scheduled_time=now() + timedelta(seconds=0.6))
        return 1

    @flow(name=uniq("orch-103t"))
    def f():
        state = later(return_state=True)
        return state.result(), str(state.state_details.task_run_id)

    value, trid = f()
    assert value == 1
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.55  # the WAIT until the scheduled time was honoured
    history = client.read_task_run_states(trid)
    assert [s.type for s in history] == [
        StateType.PENDING, StateType.RUNNING, StateType.SCHEDULED, StateType.RUNNING,
        StateType.COMPLETED,
    ]  # fmt: skip


def test_103_task_scheduled_in_the_past_runs_at_once():
    calls: list[float] = []

    @task
    def later():
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Scheduled(scheduled_time=now() - timedelta(seconds=300))
        return 1

    @flow(name=uniq("orch-103p"))
    def f():
        return later()

    assert f() == 1
    assert calls[1] - calls[0] < 0.4


def test_103_flow_scheduled_ahead_waits_then_runs(client):
    calls: list[float] = []

    @flow(name=uniq("orch-103f"))
    def f():
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Scheduled(scheduled_time=now() + timedelta(seconds=0.6))
        return "ran again"

    state = f(return_state=True)
    assert state.result() == "ran again"
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.55
    fid = flow_run_id(state)
    assert client.read_flow_run(fid).run_count == 2
    assert [s.type for s in client.read_flow_run_states(fid)] == [
        StateType.PENDING, StateType.RUNNING, StateType.SCHEDULED, StateType.RUNNING,
        StateType.COMPLETED,
    ]  # fmt: skip


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
    tag = limited_tag(1)
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


# 107 -----------------------------------------------------------------------------------------
def completed_flow_run(persist):
    @flow(name=uniq("orch-107"), persist_result=persist)
    def f():
        return 1

    state = f(return_state=True)
    assert state.is_completed()
    return flow_run_id(state)


def test_107_terminal_runs_cannot_crash_or_start_cancelling(client):
    fid = completed_flow_run(persist=False)
    client.set_flow_run_state(fid, State(type=StateType.CRASHED, message="late crash"))
    assert client.read_flow_run(fid).state.type == StateType.COMPLETED
    client.set_flow_run_state(fid, State(type=StateType.CANCELLING))
    assert client.read_flow_run(fid).state.type == StateType.COMPLETED
    client.set_flow_run_state(fid, Paused())
    assert client.read_flow_run(fid).state.type == StateType.COMPLETED


def test_107_completed_with_persisted_result_stays_completed(client):
    fid = completed_flow_run(persist=True)
    client.set_flow_run_state(fid, Running())
    assert client.read_flow_run(fid).state.type == StateType.COMPLETED
    assert client.read_flow_run(fid).state.result() == 1


def test_107_completed_with_unpersisted_result_may_run_again(client):
    fid = completed_flow_run(persist=False)
    client.set_flow_run_state(fid, Running())
    assert client.read_flow_run(fid).state.type == StateType.RUNNING
    client.set_flow_run_state(fid, Completed())
    assert client.read_flow_run(fid).state.type == StateType.COMPLETED


# 108 -----------------------------------------------------------------------------------------
def test_108_running_flow_run_cannot_go_back_to_pending(client):
    seen = {}

    @flow(name=uniq("orch-108"))
    def f():
        fid = str(get_run_context().flow_run.id)
        client.set_flow_run_state(fid, Pending())
        seen["after"] = client.read_flow_run(fid).state.type
        return "still running"

    assert f() == "still running"
    assert seen["after"] == StateType.RUNNING


def test_108_cancelled_flow_run_cannot_go_back_to_pending(client):
    @flow(name=uniq("orch-108c"))
    def f():
        return Cancelled()

    fid = flow_run_id(f(return_state=True))
    client.set_flow_run_state(fid, Pending())
    assert client.read_flow_run(fid).state.type == StateType.CANCELLED


def test_108_failed_flow_run_may_go_to_pending(client):
    @flow(name=uniq("orch-108f"))
    def f():
        raise ValueError("x")

    fid = flow_run_id(f(return_state=True))
    client.set_flow_run_state(fid, Pending())
    assert client.read_flow_run(fid).state.type == StateType.PENDING
    client.set_flow_run_state(fid, Failed(message="put back"), force=True)


# 109 -----------------------------------------------------------------------------------------
def test_109_task_cannot_start_while_its_flow_is_not_running(client):
    calls = []

    @task
    def t():
        calls.append(1)
        return "ran"

    seen = {}

    @flow(name=uniq("orch-109"))
    def f():
        fid = str(get_run_context().flow_run.id)
        client.set_flow_run_state(fid, Pending(), force=True)
        state = t(return_state=True)
        seen["state"] = state
        seen["task"] = str(state.state_details.task_run_id)
        client.set_flow_run_state(fid, Running(), force=True)
        return "body done"

    assert f() == "body done"
    assert calls == []
    assert seen["state"].type == StateType.PENDING
    assert client.read_task_run(seen["task"]).state.type == StateType.PENDING


# 110 -----------------------------------------------------------------------------------------
def test_110_manual_retry_without_a_deployment_is_refused(client):
    @flow(name=uniq("orch-110"))
    def f():
        raise ValueError("failed")

    state = f(return_state=True)
    fid = flow_run_id(state)
    client.set_flow_run_state(fid, Scheduled(name="AwaitingRetry"))
    run = client.read_flow_run(fid)
    assert run.state.type == StateType.FAILED
    assert run.run_count == 1


FAILS_ONCE = """
    import os

    from executor import flow

    @flow
    def fails_once(marker: str):
        with open(marker, "a") as fh:
            fh.write(f"{os.getpid()}\\n")
        with open(marker) as fh:
            if len(fh.read().split()) == 1:
                raise ValueError("first time")
        return "second time"
"""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_110_manual_retry_with_a_deployment_is_accepted_past_retries(client, deployments, tmp_path):
    marker = tmp_path / "pids"
    fid = deployments.run(FAILS_ONCE, "fails_once", {"marker": str(marker)})
    run = deployments.wait_final(client, fid)
    assert (run.state.type, run.run_count, run.empirical_policy["retries"]) == (StateType.FAILED, 1, 0)
    (pid,) = [int(line) for line in marker.read_text().split()]
    # Let the worker reap the process and see the run final before it is rescheduled.
    assert wait_until(lambda: not pid_alive(pid), timeout=10)
    time.sleep(0.5)

    result = client.set_flow_run_state(fid, Scheduled(name="AwaitingRetry"))
    assert result.status == "ACCEPT", result
    assert (result.state.type, result.run_count) == (StateType.SCHEDULED, 1)  # run_count unchanged
    run = deployments.wait_final(client, fid)  # a worker runs it again
    assert (run.state.type, run.run_count) == (StateType.COMPLETED, 2), run.state
    assert len(marker.read_text().split()) == 2


# 111 -----------------------------------------------------------------------------------------
def test_111_failed_task_reruns_as_retrying_when_its_flow_retries(client):
    seen: list[tuple[int, str]] = []

    @task
    def flaky():
        ctx = get_run_context()
        seen.append((ctx.task_run.run_count, client.read_task_run(str(ctx.task_run.id)).state.name))
        if len(seen) == 1:
            raise ValueError("first flow attempt")
        return str(ctx.task_run.id)

    @flow(name=uniq("orch-111"), retries=1)
    def f():
        return flaky()

    trid = f()
    assert seen == [(1, "Running"), (1, "Retrying")]  # run_count was reset, then counted again
    assert names(client.read_task_run_states(trid)) == [
        "Pending", "Running", "Failed", "Retrying", "Completed",
    ]  # fmt: skip


# 112 -----------------------------------------------------------------------------------------
def test_112_flow_retry_decision_follows_run_count(client):
    calls = []

    @flow(name=uniq("orch-112"), retries=1)
    def f():
        calls.append(1)
        raise ValueError("always")

    state = f(return_state=True)
    fid = flow_run_id(state)
    types = [s.type for s in client.read_flow_run_states(fid)]
    # run_count 1 <= retries 1: AwaitingRetry; run_count 2 > retries: FAILED accepted.
    assert types == [
        StateType.PENDING, StateType.RUNNING, StateType.SCHEDULED, StateType.RUNNING,
        StateType.FAILED,
    ]  # fmt: skip
    assert client.read_flow_run(fid).run_count == 2
    assert len(calls) == 2


# 113 -----------------------------------------------------------------------------------------
def test_113_only_running_flows_can_be_paused(client):
    seen = {}

    @flow(name=uniq("orch-113"))
    def f():
        fid = str(get_run_context().flow_run.id)
        client.set_flow_run_state(fid, Pending(), force=True)
        client.set_flow_run_state(fid, Paused(timeout_seconds=30))
        seen["after"] = client.read_flow_run(fid).state.type
        client.set_flow_run_state(fid, Running(), force=True)
        return "body done"

    assert f() == "body done"
    assert seen["after"] == StateType.PENDING


def test_113_paused_run_cannot_go_to_pending(client):
    @task
    def pauser():
        return Paused(pause_expiration_time=now() + timedelta(seconds=30), pause_key="k")

    @flow(name=uniq("orch-113p"))
    def f():
        pauser()

    fid = flow_run_id(f(return_state=True))
    client.set_flow_run_state(fid, Pending())
    assert client.read_flow_run(fid).state.type == StateType.PAUSED
    client.set_flow_run_state(fid, Cancelled())  # leaving PAUSED for a terminal state is allowed
    assert client.read_flow_run(fid).state.type == StateType.CANCELLED


# 114 -----------------------------------------------------------------------------------------
def test_114_scheduled_time_is_copied_onto_pending(client, deployments):
    """A worker's claim proposes SCHEDULED -> PENDING without a scheduled time."""
    when = (now() + timedelta(seconds=0.5)).replace(microsecond=0)
    fid = deployments.run(QUICK, "quick", scheduled_time=when)
    run = deployments.wait_final(client, fid)
    assert run.state.type == StateType.COMPLETED, run.state
    states = client.read_flow_run_states(fid)
    assert [s.type for s in states] == [
        StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.COMPLETED,
    ]  # fmt: skip
    scheduled, pending, running, completed = states
    assert scheduled.state_details.scheduled_time == when
    assert pending.state_details.scheduled_time == when  # copied
    assert running.state_details.scheduled_time is None  # other transitions copy nothing
    assert completed.state_details.scheduled_time is None


QUICK = """
    from executor import flow

    @flow
    def quick():
        return "ok"
"""
