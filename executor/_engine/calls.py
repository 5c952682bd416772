"""Entering the engine from user code: the thin sync and async adapters around the one async
implementation (run_flow, run_task). They decide where user code runs and how the caller
waits; the orchestration itself never differs between colours."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from executor import _runtime as rtm
from executor._engine.flow_start import FlowCall, report_crash, run_flow
from executor._engine.task_run import TaskCall, run_task
from executor.context import FlowRunContext, TaskRunContext, current_tags
from executor.exceptions import CancelledRun, TerminationSignal
from executor.futures import PrefectFuture
from executor.states import State

log = logging.getLogger("cadenza.engine")


def _wait(cf: concurrent.futures.Future, portal: rtm.CallerPortal | None) -> rtm.Outcome:
    return portal.wait(cf) if portal is not None else cf.result()


def _deliver(outcome: rtm.Outcome, return_state: bool) -> Any:
    if outcome.exc is not None:
        raise outcome.exc
    state: State = outcome.value
    return state if return_state else state.result()


# -- flows -------------------------------------------------------------------------------------
def enter_flow_call(flow: Any, args: tuple, kwargs: dict, return_state: bool, wait_for: Any) -> Any:
    if TaskRunContext.get() is not None:
        raise RuntimeError("Flows cannot be run from within tasks. Did you mean to call this flow in a flow?")
    parent = FlowRunContext.get()
    if wait_for is not None and parent is None:
        raise ValueError("Only flows run as subflows can wait for dependencies.")
    if parent is not None and parent.timed_out.is_set():
        raise TimeoutError("Flow run timed out")
    if parent is not None and parent.cancelled.is_set():
        raise CancelledRun("The flow run was cancelled")
    parameters = flow._bind(args, kwargs)
    name = flow._run_name(parameters)
    tags = current_tags()
    dynamic_key = parent.next_dynamic_key(flow.task_key) if parent is not None else 0
    rt = rtm.get_runtime()

    def on_loop(loop: asyncio.AbstractEventLoop) -> FlowCall:
        return FlowCall(
            flow, parameters, wait_for, parent, tags, name, "loop", loop=loop, dynamic_key=dynamic_key
        )

    if flow.isasync and (parent is None or parent.flow.isasync):
        return _async_flow_call(rt, on_loop, return_state, parent is None)

    portal = None
    if flow.isasync:  # an async subflow under a sync parent: the caller gets the value
        call = on_loop(rt.user_loop())
    elif flow.timeout_seconds:
        call = FlowCall(flow, parameters, wait_for, parent, tags, name, "thread", dynamic_key=dynamic_key)
    else:
        portal = rtm.CallerPortal(rt.loop)
        call = FlowCall(
            flow, parameters, wait_for, parent, tags, name, "caller", portal=portal, dynamic_key=dynamic_key
        )
    cf = rt.submit(run_flow(call))
    with _sigterm_raises(parent is None):
        try:
            outcome = _wait(cf, portal)
        except _INTERRUPTS as exc:  # the caller was interrupted while it waited
            call.reported_by_caller = True  # with this interrupt as the reason, just below
            cf.cancel()
            try:
                rt.run(report_crash(call, exc), timeout=5)
            except (TimeoutError, RuntimeError):  # a busy or stopped engine loop
                log.debug("Could not report the interrupted flow run as Crashed", exc_info=True)
            raise
    return _deliver(outcome, return_state)


# What can interrupt a caller waiting for its flow run: Ctrl-C, SIGTERM (see _sigterm_raises)
# and sys.exit from a signal handler. The flow body's own errors come back in the Outcome.
_INTERRUPTS = (KeyboardInterrupt, SystemExit, TerminationSignal)


class _sigterm_raises:
    """During a top-level flow call in the main thread (sync, or an async one being awaited),
    SIGTERM raises TerminationSignal so the run is reported Crashed before the process goes
    away, as Prefect's capture_sigterm does. The handler is installed by the outermost of the
    calls in progress and put back when the last one ends."""

    def __init__(self, enabled: bool, call: FlowCall | None = None) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.call = call

    def __enter__(self) -> None:
        if not self.enabled:
            return
        if not _sigterm_scopes:
            try:
                _previous_sigterm[0] = signal.signal(signal.SIGTERM, _on_sigterm)
            except ValueError:  # not the main interpreter
                self.enabled = False
                return
        _sigterm_scopes.append(self)

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            _sigterm_scopes.remove(self)
            if not _sigterm_scopes:
                signal.signal(signal.SIGTERM, _previous_sigterm[0])


_sigterm_scopes: list[_sigterm_raises] = []
_previous_sigterm: list[Any] = [signal.SIG_DFL]


def _on_sigterm(signum: int, frame: Any) -> None:
    exc = TerminationSignal("SIGTERM")
    for scope in _sigterm_scopes:
        if scope.call is not None:
            # An async caller sees the signal as the cancellation of its flow call: the engine
            # reports that crash with this reason.
            scope.call.interrupt = exc
    raise exc


# How long an async caller that stops waiting gives the engine to report the crash (and run the
# run's hooks) before it goes on: a process about to exit would otherwise cut that off.
_CRASH_REPORT_SECONDS = 10.0


async def _async_flow_call(
    rt: rtm.Runtime,
    on_loop: Callable[[asyncio.AbstractEventLoop], FlowCall],
    return_state: bool,
    top_level: bool,
) -> Any:
    call = on_loop(asyncio.get_running_loop())  # the caller's own loop runs the body
    ended = threading.Event()
    running = rt.submit(_setting_when_done(run_flow(call), ended))
    with _sigterm_raises(top_level, call):
        try:
            outcome = await asyncio.wrap_future(running)
        except BaseException:
            # Cancelled by the caller (an anyio scope, task.cancel(), asyncio.run ending on a
            # signal): the engine ends the run Crashed once it sees the cancellation.
            running.cancel()
            ended.wait(_CRASH_REPORT_SECONDS)
            raise
    return _deliver(outcome, return_state)


async def _setting_when_done(coro: Coroutine[Any, Any, rtm.Outcome], done: threading.Event) -> rtm.Outcome:
    try:
        return await coro
    finally:
        done.set()


# -- tasks -------------------------------------------------------------------------------------
def _task_flow_context() -> FlowRunContext:
    """The flow run a task call belongs to. A call inside another task (a nested task, as Prefect
    2.20 allows) belongs to the outer task's flow run: a task body on a worker thread may not
    see the flow's context variable, its own task context always carries it."""
    outer = TaskRunContext.get()
    flow_ctx = outer.flow_run_context if outer is not None else FlowRunContext.get()
    if flow_ctx is None:
        raise RuntimeError(
            "Tasks cannot be run outside of a flow. To call the underlying task function outside "
            "of a flow use `task.fn()`."
        )
    if outer is not None and flow_ctx.flow is None:  # the stand-in context of a Dask worker
        raise RuntimeError(
            "Tasks cannot be run from within a task running on a Dask worker: the flow run's task "
            "runner and task run keys live in the flow's process. Call the inner function with "
            "`task.fn(...)`, or call or submit the inner task from the flow."
        )
    if flow_ctx.timed_out.is_set():
        raise TimeoutError("Flow run timed out")
    if flow_ctx.cancelled.is_set():
        raise CancelledRun("The flow run was cancelled")
    return flow_ctx


def caller_is_async(flow_ctx: FlowRunContext) -> bool:
    """Whether the code calling a task is async (the outer task for a nested call, else the
    flow): an async task called from it gives an awaitable, as Prefect 2 does."""
    outer = TaskRunContext.get()
    return bool(outer.task.isasync) if outer is not None else bool(flow_ctx.flow.isasync)


def _new_call(
    task: Any,
    flow_ctx: FlowRunContext,
    parameters: dict,
    wait_for: Any,
    asynchronous: bool,
    extra_inputs: list[str] | None = None,
) -> TaskCall:
    dynamic_key = flow_ctx.next_dynamic_key(task.task_key)
    future = PrefectFuture(task, dynamic_key, rtm.get_runtime().loop, asynchronous)
    tags = current_tags().union(task.tags) if task.tags else current_tags()  # a frozenset either way
    # Async task bodies run on loops of their own, never the flow's: a sync task called from an
    # async flow blocks the flow's loop while it waits for its upstream tasks.
    outer = TaskRunContext.get()
    # A nested sync task gets a thread of its own: outer tasks waiting on the shared pool for
    # inner tasks queued behind them on that same pool would wait forever.
    where = "thread" if outer is not None else "pool"
    return TaskCall(
        task,
        parameters,
        wait_for,
        flow_ctx,
        dynamic_key,
        tags,
        future,
        where,
        extra_inputs=extra_inputs,
        parent_task_run_id=outer.task_run.id if outer is not None else None,
    )


def _track(flow_ctx: FlowRunContext, call: TaskCall, child: Any) -> None:
    """A flow run's own calls count toward its final state; nested ones belong to their outer
    task (as in Prefect 2.20, which leaves them out of the flow's task run futures)."""
    if call.parent_task_run_id is None:
        flow_ctx.children.append(child)


def run_to_end(call: TaskCall) -> rtm.Outcome:
    """Run a task call to its end for a sync caller (a direct call, or a runner that waits). A
    sync function without a timeout runs in this very thread, which waits anyway; the rest run
    where run_task puts them."""
    rt = rtm.get_runtime()
    portal = None
    if not call.task.isasync and not call.task.timeout_seconds:
        portal = rtm.CallerPortal(rt.loop)
        call.where, call.portal = "caller", portal
    return _wait(rt.submit(run_task(call)), portal)


async def run_to_end_async(call: TaskCall) -> rtm.Outcome:
    """The same for an async caller (an async task in an async flow): its loop stays free."""
    return await rtm.get_runtime().run_async(run_task(call))


def enter_task_call(task: Any, args: tuple, kwargs: dict, return_state: bool, wait_for: Any) -> Any:
    """`task(...)`: run to the end and give back the value (or the state)."""
    flow_ctx = _task_flow_context()
    parameters = task._bind(args, kwargs)
    both_async = task.isasync and caller_is_async(flow_ctx)
    call = _new_call(task, flow_ctx, parameters, wait_for, both_async)
    if both_async:
        return _async_task_call(call, flow_ctx, return_state)
    outcome = run_to_end(call)
    _track(flow_ctx, call, outcome.value)
    return _deliver(outcome, return_state)


async def _async_task_call(call: TaskCall, flow_ctx: FlowRunContext, return_state: bool) -> Any:
    outcome = await run_to_end_async(call)
    _track(flow_ctx, call, outcome.value)
    return _deliver(outcome, return_state)


def enter_task_submit(task: Any, args: tuple, kwargs: dict, return_state: bool, wait_for: Any) -> Any:
    """`task.submit(...)`: hand the call to the flow run's task runner; its future back."""
    flow_ctx = _task_flow_context()
    parameters = task._bind(args, kwargs)
    return submit_parameters(task, flow_ctx, parameters, return_state, wait_for)


def submit_parameters(
    task: Any,
    flow_ctx: FlowRunContext,
    parameters: dict,
    return_state: bool,
    wait_for: Any,
    extra_inputs: list[str] | None = None,
) -> Any:
    both_async = task.isasync and caller_is_async(flow_ctx)
    call = _new_call(task, flow_ctx, parameters, wait_for, both_async, extra_inputs)
    _track(flow_ctx, call, call.future)
    runner = flow_ctx.task_runner
    if both_async:
        return _async_submit(runner, call, return_state)
    future = runner.submit(call)
    return future.wait() if return_state else future


async def _async_submit(runner: Any, call: TaskCall, return_state: bool) -> Any:
    future = await runner.submit_async(call)
    if return_state:
        return await future.wait()
    return future
