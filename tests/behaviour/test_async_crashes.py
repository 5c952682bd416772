"""An async flow whose caller stops waiting (an anyio cancel scope, a cancelled asyncio task)
does not stay Running: the run ends Crashed, as Prefect 2 reports it, and its on_crashed hooks
run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import anyio
import pytest

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


VICTIM = textwrap.dedent(
    """
    import asyncio, sys, time
    from executor import flow
    from executor.context import get_run_context
    from executor.exceptions import TerminationSignal

    def hook(name):
        def record(flow, run, state):
            print(name, state.type.value, flush=True)
        return record

    @flow(on_crashed=[hook("on_crashed")], on_cancellation=[hook("on_cancellation")])
    async def async_victim(blocking: bool):
        print(get_run_context().flow_run.id, flush=True)
        if blocking:
            time.sleep(30)  # the signal arrives inside the body's own code
        await asyncio.sleep(30)  # the signal arrives while the loop waits

    @flow(on_crashed=[hook("on_crashed")], on_cancellation=[hook("on_cancellation")])
    def sync_victim(blocking: bool):
        print(get_run_context().flow_run.id, flush=True)
        time.sleep(30)

    victim = async_victim if sys.argv[1] == "async" else sync_victim
    try:
        run = victim(sys.argv[2] == "blocking")
        asyncio.run(run) if sys.argv[1] == "async" else None
    except TerminationSignal:
        print("raised TerminationSignal", flush=True)
        sys.exit(3)
    """
)


@pytest.mark.parametrize("kind, where", [("async", "waiting"), ("async", "blocking"), ("sync", "blocking")])
def test_sigterm_during_a_flow_crashes_it_runs_on_crashed_and_raises(client, tmp_path, kind, where):
    script = tmp_path / "victim.py"
    script.write_text(VICTIM)
    proc = subprocess.Popen(
        [sys.executable, str(script), kind, where], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        run_id = proc.stdout.readline().strip()
        time.sleep(0.2)  # into the body's sleep
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, out
    assert out.splitlines() == ["on_crashed CRASHED", "raised TerminationSignal"]
    state = client.read_flow_run(run_id).state
    assert state.type is StateType.CRASHED
    assert state.message == "Execution was aborted by a termination signal."
