"""A script's own flow run is held by the script's process: a cancel reaches it within a
heartbeat (not at its next task), ends it Cancelled and runs its on_cancellation hooks; a
killed script's run ends Crashed (or Cancelled, when it was cancelling) once its lease lapses.
Each script is a real process; the cancel comes from another client, as from the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from executor.states import State, StateType

from ._util import wait_until

LEASE = "1"  # seconds: the orchestrator notices a dead script within lease + takeover grace (2 s)

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from executor import flow, task
    from executor.context import get_run_context

    marker = Path(sys.argv[1])

    def on_cancel(flow, run, state):
        marker.with_suffix(".hook").write_text(state.type.value)

    @task
    def step():
        marker.with_suffix(".task").write_text("ran")

    @flow(on_cancellation=[on_cancel])
    async def async_victim():
        print(get_run_context().flow_run.id, flush=True)
        await asyncio.sleep(30)

    @flow(on_cancellation=[on_cancel])
    def sync_victim():
        print(get_run_context().flow_run.id, flush=True)
        time.sleep(4)  # in the caller's thread: cannot be interrupted
        step()  # refused: the run was cancelled meanwhile

    if sys.argv[2] == "async":
        state = asyncio.run(async_victim(return_state=True))
    else:
        state = sync_victim(return_state=True)
    print("final", state.type.value, flush=True)
    """
)


def _start(tmp_path, kind: str) -> tuple[subprocess.Popen, str]:
    script = tmp_path / "victim.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, CADENZA_LEASE_SECONDS=LEASE)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "marker"), kind],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    run_id = proc.stdout.readline().strip()
    assert run_id, proc.stderr.read()
    return proc, run_id


def _cancel(client, run_id: str) -> None:
    answer = client.set_flow_run_state(run_id, State(StateType.CANCELLING, message="by a test"))
    assert answer.state.type is StateType.CANCELLING, answer  # a process holds it


def _type(client, run_id: str) -> StateType:
    return client.read_flow_run(run_id).state.type


def _seconds_to_cancelled(client, run_id: str) -> float:
    """Cancel the run as the CLI would; the time until it reads Cancelled."""
    _cancel(client, run_id)
    started = time.monotonic()
    assert wait_until(lambda: _type(client, run_id) is StateType.CANCELLED, timeout=5)
    return time.monotonic() - started


def test_a_cancel_reaches_an_async_script_run_within_a_heartbeat(client, tmp_path):
    proc, run_id = _start(tmp_path, "async")
    try:
        assert _seconds_to_cancelled(client, run_id) < 2.5
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert "final CANCELLED" in out, err
    assert (tmp_path / "marker.hook").read_text() == "CANCELLED"
    assert client.read_flow_run(run_id).state.message == "by a test"


def test_a_sync_script_run_is_cancelled_at_once_and_its_body_stopped_at_its_next_task(client, tmp_path):
    proc, run_id = _start(tmp_path, "sync")
    try:
        # The body still sleeps: the engine ended the run.
        assert _seconds_to_cancelled(client, run_id) < 2.5
        assert wait_until((tmp_path / "marker.hook").exists, timeout=2)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert not (tmp_path / "marker.task").exists()  # the task after the cancel never ran
    assert "final CANCELLED" in out, (out, err)
    assert client.read_task_runs(flow_run_id=run_id) == []


def test_a_killed_script_run_ends_crashed_when_its_lease_lapses(client, tmp_path):
    proc, run_id = _start(tmp_path, "async")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=5)
    assert _type(client, run_id) is StateType.RUNNING
    assert wait_until(lambda: _type(client, run_id) is StateType.CRASHED, timeout=8)
    assert "stopped sending heartbeats" in client.read_flow_run(run_id).state.message


def test_a_cancel_of_a_killed_script_run_ends_cancelled_when_its_lease_lapses(client, tmp_path):
    proc, run_id = _start(tmp_path, "async")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=5)
    _cancel(client, run_id)
    assert wait_until(lambda: _type(client, run_id) is StateType.CANCELLED, timeout=8)
