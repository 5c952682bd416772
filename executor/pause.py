"""Pausing a flow run in process (blocking until resumed or timed out) and resuming it, here
or from another process, through the orchestrator."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from executor import _runtime as rtm
from executor._engine.answers import FLOW, propose
from executor.context import FlowRunContext, TaskRunContext
from executor.exceptions import Abort, FlowPauseTimeout, NotPausedError, PausedRun
from executor.states import Paused, State


def pause_flow_run(
    flow_run_id: str | None = None,
    timeout: float = 300,
    poll_interval: float = 10,
    reschedule: bool = False,
    key: str | None = None,
) -> Any:
    """Pause the current flow run until it is resumed (or `timeout` seconds pass: then the run
    fails), and return the JSON input it was resumed with (`resume_flow_run(id, run_input)`,
    the Executor's ResumeFlowRun, `cadenza flow-run resume ID --input`), or None.
    With `flow_run_id`, pause that run from outside: it stops at its next task."""
    if TaskRunContext.get() is not None:
        raise RuntimeError("Cannot pause task runs.")
    rt = rtm.get_runtime()
    if flow_run_id is not None:
        coro = _pause_other(rt, str(flow_run_id), timeout, key)
        ctx = FlowRunContext.get()
        return _colour(rt, coro, ctx.flow.isasync if ctx is not None else _in_loop())
    ctx = FlowRunContext.get()
    if ctx is None:
        raise RuntimeError("Flow runs can only be paused from within a flow run.")
    if reschedule:
        if ctx.flow_run.parent_task_run_id:
            raise RuntimeError("Cannot pause subflows with the reschedule option.")
        if not ctx.flow_run.deployment_id:
            raise RuntimeError("Cannot pause flows without a deployment with the reschedule option.")
    if key is None:
        ctx.pause_count += 1
        key = str(ctx.pause_count)
    return _colour(rt, _pause_here(rt, ctx, timeout, poll_interval, key, reschedule), ctx.flow.isasync)


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


def _colour(rt: rtm.Runtime, coro: Any, asynchronous: bool) -> Any:
    if asynchronous:
        return rt.run_async(coro)
    return rt.run(coro)


async def _pause_here(
    rt: rtm.Runtime,
    ctx: FlowRunContext,
    timeout: float,
    poll_interval: float,
    key: str,
    reschedule: bool = False,
) -> Any:
    flow_run_id = ctx.flow_run.id
    paused = Paused(timeout_seconds=timeout, pause_key=key, reschedule=reschedule)
    try:
        state, _ = await propose(rt.port, FLOW, flow_run_id, paused)
    except Abort as exc:
        raise RuntimeError(f"Flow run cannot be paused: {exc}") from None
    if state.is_running():
        return await rt.port.read_run_input(flow_run_id)  # this pause already fired (same key): carry on
    if not state.is_paused():
        raise RuntimeError(f"Flow run cannot be paused. Received non-paused state from API: {state!r}")
    if reschedule:
        # The flow body stops here and the engine leaves the run Paused: this process exits, and
        # once resumed the run is Scheduled again for a worker, which runs the flow from the start
        # (tasks already completed are not run again; this pause, already fired, returns at once).
        raise PausedRun("The flow run is paused until resumed; it will then be run again.", state=state)
    deadline = time.monotonic() + timeout
    await asyncio.sleep(min(timeout / 2, poll_interval))
    while True:
        current = (await rt.port.read_flow_run(flow_run_id)).state
        if current is not None and current.is_running():
            return await rt.port.read_run_input(flow_run_id)  # given with the resume
        if current is not None and current.is_final():
            raise FlowPauseTimeout(f"Flow run left its pause for {current.type.value}.")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FlowPauseTimeout("Flow run was paused and never resumed.")
        await asyncio.sleep(min(poll_interval, remaining + 0.01))


async def _pause_other(rt: rtm.Runtime, flow_run_id: str, timeout: float, key: str | None) -> None:
    result = await rt.port.set_flow_run_state(flow_run_id, Paused(timeout_seconds=timeout, pause_key=key))
    if result.status == "ABORT":
        raise RuntimeError(f"Flow run cannot be paused: {result.reason}")


def resume_flow_run(flow_run_id: str, run_input: dict | None = None) -> Any:
    """Resume a paused flow run (from this or any other process)."""
    rt = rtm.get_runtime()
    ctx = FlowRunContext.get()
    return _colour(rt, _resume(rt, str(flow_run_id), run_input), ctx.flow.isasync if ctx else _in_loop())


async def _resume(rt: rtm.Runtime, flow_run_id: str, run_input: dict | None) -> None:
    run = await rt.port.read_flow_run(flow_run_id)
    if run.state is None or not run.state.is_paused():
        raise NotPausedError("Cannot resume a run that isn't paused!")
    result = await rt.port.resume_flow_run(flow_run_id, run_input)
    if result.status == "ABORT":
        raise RuntimeError(f"Cannot resume this run: {result.reason}")
    if result.status == "REJECT":
        if isinstance(result.state, State) and result.state.is_failed():
            raise FlowPauseTimeout("Flow run can no longer be resumed.")
        raise RuntimeError(f"Cannot resume this run: {result.reason}")
