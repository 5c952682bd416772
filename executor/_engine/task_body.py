"""Running a task's function for one attempt: in the caller's thread, on the shared pool, or
on a loop for async functions, within the task's timeout; what it returned or raised becomes
the attempt's state, with its result reference attached off the engine loop."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING

from executor import _runtime as rtm
from executor._params import to_call_args
from executor._resolve import is_untrackable
from executor.context import TaskRunContext, reset_task_context, set_task_context
from executor.loggers import print_mode, task_run_logger
from executor.states import _UNSET, State, StateType, exception_to_failed_state, return_value_to_state

if TYPE_CHECKING:
    from executor._engine.task_run import TaskCall

log = logging.getLogger("cadenza.task_runs")


def _finish_value(call: TaskCall, ctx: TaskRunContext, state: State) -> State:
    """Attach the result reference (persisting if needed) in the worker, off the engine loop."""
    data = state._data
    if data is not _UNSET:
        factory = call.task._result_factory(ctx.result_factory)
        state.result_ref = factory.create_ref(data, persist=call.task._persist(call.flow_ctx))
        if state.type is StateType.COMPLETED and is_untrackable(data):
            state.state_details.untrackable_result = True
    return state


def _failure(call: TaskCall, ctx: TaskRunContext, exc: Exception) -> State:
    task_run_logger(ctx.task_run, call.task).error("Encountered exception during execution:", exc_info=exc)
    state = exception_to_failed_state(exc, f"Task run encountered an exception {type(exc).__name__}: {exc}")
    condition = call.task.retry_condition_fn
    if condition is not None:
        try:
            state.state_details.retriable = bool(condition(call.task, ctx.task_run, state))
        except Exception:
            log.exception("retry_condition_fn of task %r raised; the failure stays retriable", call.task.name)
    return _finish_value(call, ctx, state)


def _call_sync(call: TaskCall, params: dict, ctx: TaskRunContext) -> State:
    token = set_task_context(ctx)
    try:
        args, kwargs = to_call_args(call.task.signature, params)
        with print_mode(ctx.log_prints):
            value = call.task.fn(*args, **kwargs)
        if inspect.isgenerator(value):
            value = list(value)
    except Exception as exc:  # the task's own error: the run fails with it
        return _failure(call, ctx, exc)
    finally:
        reset_task_context(token)
    return _finish_value(call, ctx, return_value_to_state(value))


async def _call_async(call: TaskCall, params: dict, ctx: TaskRunContext) -> State:
    token = set_task_context(ctx)
    try:
        args, kwargs = to_call_args(call.task.signature, params)
        with print_mode(ctx.log_prints):
            value = await call.task.fn(*args, **kwargs)
    except Exception as exc:  # the task's own error: the run fails with it
        return _failure(call, ctx, exc)
    finally:
        reset_task_context(token)
    return _finish_value(call, ctx, return_value_to_state(value))


async def execute(call: TaskCall, params: dict, ctx: TaskRunContext) -> rtm.Outcome:
    rt = rtm.get_runtime()
    task = call.task
    if task.isasync:
        if call.loop is not None:
            aw = rtm.run_on_loop(call.loop, lambda: _call_async(call, params, ctx))
        else:  # a loop of its own, so that a blocking call in it holds up no other task
            pool = rt.task_loops
            aw = rtm.run_on_loop(pool.acquire(), lambda: _call_async(call, params, ctx), pool)
    elif call.where == "caller" and call.portal is not None and not task.timeout_seconds:
        aw = call.portal.call(_call_sync, call, params, ctx)
    elif call.where == "thread":  # a nested task: see calls._new_call
        aw = rtm.run_in_new_thread(_call_sync, call, params, ctx)
    else:
        aw = rtm.run_in_thread(rt, _call_sync, call, params, ctx)
    if not task.timeout_seconds:
        return await aw
    try:
        return await asyncio.wait_for(aw, task.timeout_seconds)
    except TimeoutError:
        # A sync function's thread runs on; the run is over for the orchestrator anyway.
        exc = TimeoutError(f"Task run exceeded timeout of {task.timeout_seconds} seconds")
        state = State(StateType.FAILED, name="TimedOut", message=str(exc), data=exc)
        return rtm.Outcome(_finish_value(call, ctx, state))
