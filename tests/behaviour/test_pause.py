"""Pause and resume: where a run may pause, pauses that time out, when the pause is checked,
resuming (with input), pauses that reschedule a deployed run, pausing from outside the process
or by a task's Paused state, and resuming a run that is not paused. Timeouts and poll intervals
scaled to tenths of seconds."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from executor import flow, pause_flow_run, resume_flow_run, task
from executor.context import get_run_context
from executor.exceptions import FailedRun, FlowPauseTimeout, NotPausedError, PausedRun
from executor.states import Paused, StateType

from ._util import flow_run_id, pid_alive, task_runs, uniq, wait_until

pytestmark = pytest.mark.timeout(30)

NEVER_RESUMED = "The flow was paused and never resumed."


@task
def work(i):
    return i


def resume_later(flow_run_id, delay):
    """Resume the flow run from another thread after `delay` seconds."""

    def run():
        time.sleep(delay)
        resume_flow_run(flow_run_id)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# 89 ------------------------------------------------------------------------------------------
def test_89_pausing_inside_a_task_raises():
    @task
    def pauser():
        pause_flow_run(timeout=1)

    @flow(name=uniq("pause-89"))
    def f():
        return pauser()

    with pytest.raises(RuntimeError, match="Cannot pause task runs."):
        f()


def test_89_pausing_outside_a_flow_raises():
    with pytest.raises(RuntimeError):
        pause_flow_run(timeout=1)


# 90 ------------------------------------------------------------------------------------------
def test_90_pause_that_times_out_fails_the_flow(client):
    seen = {}

    @flow(name=uniq("pause-90"))
    def f():
        seen["id"] = str(get_run_context().flow_run.id)
        work.submit(1)
        work.submit(2)
        pause_flow_run(timeout=0.1)
        work(3)
        work(4)
        work(5)

    started = time.monotonic()
    with pytest.raises(FailedRun):
        f()
    assert time.monotonic() - started < 2

    run = client.read_flow_run(seen["id"])
    assert run.state.type == StateType.FAILED
    assert run.state.message == NEVER_RESUMED
    assert len(task_runs(client, seen["id"])) == 2
    assert StateType.PAUSED in [s.type for s in client.read_flow_run_states(seen["id"])]


# 91 ------------------------------------------------------------------------------------------
def pause_and_measure(timeout, poll_interval, resume_after):
    seen = {}

    @flow(name=uniq("pause-91"))
    def f():
        fid = str(get_run_context().flow_run.id)
        resume_later(fid, resume_after)
        started = time.monotonic()
        pause_flow_run(timeout=timeout, poll_interval=poll_interval)
        seen["elapsed"] = time.monotonic() - started
        return work(1)

    assert f() == 1
    return seen["elapsed"]


def test_91_first_check_after_the_poll_interval():
    # min(timeout / 2, poll) = min(1.0, 0.3) = 0.3: resumed at 0.05, seen at the first check.
    elapsed = pause_and_measure(timeout=2.0, poll_interval=0.3, resume_after=0.05)
    assert 0.25 <= elapsed < 0.55, elapsed


def test_91_first_check_after_half_the_timeout():
    # min(timeout / 2, poll) = min(0.3, 5) = 0.3: not a 5 s wait.
    elapsed = pause_and_measure(timeout=0.6, poll_interval=5, resume_after=0.05)
    assert 0.25 <= elapsed < 0.55, elapsed


def test_91_later_checks_every_poll_interval():
    # Checks at 0.3, 0.6, ...: resumed at 0.4, seen at the second check.
    elapsed = pause_and_measure(timeout=3.0, poll_interval=0.3, resume_after=0.4)
    assert 0.55 <= elapsed < 0.85, elapsed


# 92 ------------------------------------------------------------------------------------------
def test_92_resumed_pause_continues_and_a_repeated_key_does_not_pause_again(client):
    seen = {}

    @flow(name=uniq("pause-92"))
    def f():
        fid = str(get_run_context().flow_run.id)
        seen["id"] = fid
        a = work.submit(1)
        b = work.submit(2)
        resume_later(fid, 0.3)
        started = time.monotonic()
        pause_flow_run(timeout=3, poll_interval=0.1, key="do-not-repeat")
        seen["first_pause"] = time.monotonic() - started
        c = work(3)
        started = time.monotonic()
        pause_flow_run(timeout=3, poll_interval=0.1, key="do-not-repeat")
        seen["second_pause"] = time.monotonic() - started
        return [a.result(), b.result(), c, work(4), work(5)]

    assert f() == [1, 2, 3, 4, 5]
    assert 0.25 <= seen["first_pause"] < 1.0
    assert seen["second_pause"] < 0.2  # the server refused the duplicate key: no pause
    runs = task_runs(client, seen["id"])
    assert len(runs) == 5
    assert all(r.state.type == StateType.COMPLETED for r in runs)
    paused = [s for s in client.read_flow_run_states(seen["id"]) if s.type == StateType.PAUSED]
    assert len(paused) == 1


def test_pause_returns_the_input_it_was_resumed_with():
    """Cadenza: `resume_flow_run(id, run_input)` hands JSON to the paused flow, which gets it
    back from `pause_flow_run`; a resume without input gives None."""

    @flow(name=uniq("pause-input"))
    def f():
        fid = str(get_run_context().flow_run.id)

        def resume_with(value):
            time.sleep(0.3)
            resume_flow_run(fid, run_input=value)

        threading.Thread(target=resume_with, args=({"approved": True, "by": "ops"},), daemon=True).start()
        first = pause_flow_run(timeout=5, poll_interval=0.1, key="one")
        resume_later(fid, 0.3)
        second = pause_flow_run(timeout=5, poll_interval=0.1, key="two")
        return first, second

    assert f() == ({"approved": True, "by": "ops"}, None)


# 93 ------------------------------------------------------------------------------------------
def test_93_reschedule_pause_without_a_deployment_raises():
    after = []

    @flow(name=uniq("pause-93"))
    def f():
        pause_flow_run(timeout=1, reschedule=True)
        after.append(1)

    with pytest.raises(RuntimeError, match="deployment"):
        f()
    assert after == []


def test_93_reschedule_pause_in_a_subflow_raises():
    @flow(name=uniq("pause-93child"))
    def child():
        pause_flow_run(timeout=1, reschedule=True)

    @flow(name=uniq("pause-93p"))
    def parent():
        return child()

    with pytest.raises(RuntimeError, match="subflow"):
        parent()


RESCHEDULING_FLOW = """
    import os

    from executor import flow, pause_flow_run, task

    @task
    def work(i):
        return i

    @flow
    def pauses_out_of_process(marker: str):
        with open(marker, "a") as fh:
            fh.write(f"{os.getpid()}\\n")
        x, y = work.submit(1), work.submit(2)
        x.wait()
        y.wait()
        pause_flow_run(reschedule=True, timeout=30)
        work(3)
"""


def test_93_reschedule_pause_exits_and_resume_schedules_the_run(client, deployments, tmp_path):
    marker = tmp_path / "pids"
    fid = deployments.run(RESCHEDULING_FLOW, "pauses_out_of_process", {"marker": str(marker)})
    run = deployments.wait_for(client, fid, {StateType.PAUSED})
    assert run.state.state_details.pause_reschedule
    assert len(task_runs(client, fid)) == 2  # the task after the pause never started
    (pid,) = [int(line) for line in marker.read_text().split()]
    assert wait_until(lambda: not pid_alive(pid), timeout=10), "the paused run's process did not exit"
    # The worker reads the run once it has reaped its process; a resume (and a new claim)
    # before that read would be taken for the old process's unfinished run and crashed.
    time.sleep(0.5)
    assert client.read_flow_run(fid).state.type == StateType.PAUSED  # exiting did not crash it

    resume_flow_run(fid)
    # SCHEDULED "Resuming" is what a worker picks up again; it may have done so already.
    names_seen = [s.name for s in client.read_flow_run_states(fid)]
    assert names_seen[names_seen.index("Paused") + 1] == "Resuming", names_seen
    run = deployments.wait_final(client, fid)
    assert run.state.type == StateType.COMPLETED, run.state
    assert len(marker.read_text().split()) == 2  # a second process ran it to the end
    assert len(task_runs(client, fid)) == 3


# 94 ------------------------------------------------------------------------------------------
def test_94_out_of_process_pause_stops_the_flow_at_its_next_task(client):
    seen = {}

    @flow(name=uniq("pause-94"))
    def f():
        fid = str(get_run_context().flow_run.id)
        seen["id"] = fid
        x = work.submit(1)
        y = work.submit(2)
        x.wait()
        y.wait()
        pause_flow_run(flow_run_id=fid, timeout=30)
        seen["continued"] = True  # the call itself does not block
        work(3)  # rejected: the flow run is paused
        seen["after_task"] = True
        work(4)

    with pytest.raises(PausedRun):
        f()
    assert seen.get("continued") is True
    assert "after_task" not in seen

    run = client.read_flow_run(seen["id"])
    assert run.state.type == StateType.PAUSED
    with pytest.raises(PausedRun):
        run.state.result()
    runs = task_runs(client, seen["id"])
    assert len(runs) == 3
    types = [r.state.type for r in runs]
    assert types.count(StateType.COMPLETED) == 2
    assert types.count(StateType.PAUSED) == 1


# 95 ------------------------------------------------------------------------------------------
def test_95_task_returning_paused_pauses_the_flow():
    expires = datetime.now(UTC) + timedelta(seconds=60)

    @task
    def pauser():
        return Paused(pause_expiration_time=expires, pause_key="foo")

    @flow(name=uniq("pause-95"))
    def f():
        pauser()

    state = f(return_state=True)
    assert state.type == StateType.PAUSED
    details = state.state_details
    assert abs((as_utc(details.pause_timeout) - expires).total_seconds()) < 0.01
    assert not details.pause_reschedule
    assert details.pause_key == "foo"

    with pytest.raises(PausedRun):
        f()


# 96 ------------------------------------------------------------------------------------------
def test_96_resuming_a_run_that_is_not_paused_raises(client):
    @flow(name=uniq("pause-96n"))
    def f():
        return 1

    state = f(return_state=True)
    with pytest.raises(NotPausedError):
        resume_flow_run(flow_run_id(state))
    assert client.read_flow_run(flow_run_id(state)).state.type == StateType.COMPLETED


def test_96_resuming_after_the_pause_ran_out_raises_flow_pause_timeout(client):
    expires = datetime.now(UTC) + timedelta(seconds=0.4)

    @task
    def pauser():
        return Paused(pause_expiration_time=expires, pause_key="lapse")

    @flow(name=uniq("pause-96t"))
    def f():
        pauser()

    state = f(return_state=True)
    assert state.is_paused()
    fid = flow_run_id(state)
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.01)

    resumed_at = datetime.now(UTC)
    try:
        resume_flow_run(fid)
    except FlowPauseTimeout:
        pass  # the orchestrator refused the resume and failed the run
    except NotPausedError:
        # Only acceptable if the orchestrator's expiry loop (every 0.5 s) had already failed
        # the run before the resume was asked for.
        failed = client.read_flow_run(fid).state
        assert failed.type == StateType.FAILED
        assert as_utc(failed.timestamp) <= resumed_at + timedelta(seconds=0.05)
    else:
        pytest.fail("resuming a lapsed pause did not raise")
    run = client.read_flow_run(fid)
    assert run.state.type == StateType.FAILED
    assert run.state.message == NEVER_RESUMED
