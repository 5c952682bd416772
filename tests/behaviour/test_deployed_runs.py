"""Runs of deployments, through a real executor service and worker (or a test acting as the
worker): what only deployed runs do (flow retries copied into the run, manual retries past the
retry budget, the claim's SCHEDULED -> PENDING carrying the scheduled time)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from executor.states import Scheduled, StateType

from ._orchestrating import now
from ._util import pid_alive, wait_until

pytestmark = pytest.mark.timeout(30)


# 74 ------------------------------------------------------------------------------------------
ALWAYS_FAILS = """
    from executor import flow

    @flow(retries=2, retry_delay_seconds=0.2)
    def always_fails():
        raise ValueError("always")
"""


def test_74_deployment_run_copies_flow_retries_into_the_run(client, deployer):
    fid = deployer.run(ALWAYS_FAILS, "always_fails")
    assert client.read_flow_run(fid).empirical_policy["retries"] == 0  # unset by the deployment
    # The test is the worker here: an executor's worker today also claims a run's AwaitingRetry
    # state while its own child retries the run in process, and the flow runs twice.
    done = deployer.run_as_worker(fid)
    assert done.returncode == 0, done.stderr
    run = client.read_flow_run(fid)
    assert run.state.type == StateType.FAILED, run.state
    assert run.run_count == 3
    assert run.empirical_policy["retries"] == 2 and run.empirical_policy["retry_delay"] == pytest.approx(0.2)
    states = client.read_flow_run_states(fid)
    assert [s.type for s in states] == [
        StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING,
        StateType.SCHEDULED, StateType.RUNNING, StateType.SCHEDULED, StateType.RUNNING, StateType.FAILED,
    ]  # fmt: skip
    # Each retry waited out its delay: about 0.4 s in all.
    for waiting, running in [(states[3], states[4]), (states[5], states[6])]:
        assert waiting.name == "AwaitingRetry"
        assert (running.timestamp - waiting.timestamp).total_seconds() >= 0.19


# 110 -----------------------------------------------------------------------------------------
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
