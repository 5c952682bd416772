"""Driving a created flow run to its final state: resolve what it waits for, propose Running,
run the body (with its timeout), wait for its task runs, turn what it returned into the final
state, propose it, and run again on AwaitingRetry; then the completion hooks."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from typing import Any

from executor import _logship, settings
from executor import _runtime as rtm
from executor._engine.answers import FLOW, crashed_state, is_crash, propose, rerun_message
from executor._params import to_call_args
from executor._resolve import resolve_parameters, resolve_wait_for
from executor.context import FlowRunContext, enter_flow_context
from executor.exceptions import Abort, CancelledRun, FlowPauseTimeout, PausedRun, UpstreamTaskError
from executor.futures import PrefectFuture
from executor.loggers import flow_run_logger, print_mode
from executor.objects import FlowRun, OrchestrationResult
from executor.results import ResultFactory
from executor.states import _UNSET, State, StateType, return_value_to_state

log = logging.getLogger("cadenza.flow_runs")


def _call_sync_body(flow: Any, params: dict, ctx: FlowRunContext) -> Any:
    if ctx.cancelled.is_set():  # cancelled before the caller's thread got to start it
        raise CancelledRun("The flow run was cancelled")
    with enter_flow_context(ctx):
        args, kwargs = to_call_args(flow.signature, params)
        with print_mode(ctx.log_prints):
            value = flow.fn(*args, **kwargs)
        return list(value) if inspect.isgenerator(value) else value


async def _call_async_body(flow: Any, params: dict, ctx: FlowRunContext) -> Any:
    with enter_flow_context(ctx):
        args, kwargs = to_call_args(flow.signature, params)
        with print_mode(ctx.log_prints):
            return await flow.fn(*args, **kwargs)


async def _run_body(call: Any, ctx: FlowRunContext, params: dict) -> rtm.Outcome | None:
    """The body's Outcome, or None when it ran past the flow's timeout."""
    flow = call.flow
    if call.where == "loop":
        aw = rtm.run_on_loop(call.loop, lambda: _call_async_body(flow, params, ctx))
    elif call.where == "thread":
        aw = rtm.run_in_new_thread(_call_sync_body, flow, params, ctx)
    else:
        aw = call.portal.call(_call_sync_body, flow, params, ctx)
    if not flow.timeout_seconds:
        return await aw
    try:
        return await asyncio.wait_for(aw, flow.timeout_seconds)
    except TimeoutError:
        ctx.timed_out.set()  # a sync body stops at its next task call
        return None


# What `_run_body_unless_cancelled` returns when the run was asked to cancel first.
CANCEL_REQUESTED = rtm.Outcome()


async def _run_body_unless_cancelled(
    call: Any, ctx: FlowRunContext, params: dict, cancel: asyncio.Event | None
) -> rtm.Outcome | None:
    """The body's Outcome (None past its timeout), or CANCEL_REQUESTED as soon as the run is
    asked to cancel. An async body is cancelled on its loop; a sync one cannot be interrupted
    in its thread: it stops at its next task or subflow call, and what it returns is unused."""
    if cancel is None:
        return await _run_body(call, ctx, params)
    body = asyncio.ensure_future(_run_body(call, ctx, params))
    asked = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait((body, asked), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        body.cancel()
        raise
    finally:
        asked.cancel()
    if body.done():
        return body.result()
    ctx.cancelled.set()
    body.cancel()
    return CANCEL_REQUESTED


async def _end_cancelled(port: Any, flow_run_id: str) -> State | None:
    """Cancelled, when the run was asked to cancel (it is Cancelling); None when it was not."""
    stored = await port.read_flow_run(flow_run_id)
    if stored.state is None or stored.state.type is not StateType.CANCELLING:
        return None
    await _logship.flush(port)
    cancelled = State(StateType.CANCELLED, message=stored.state.message or "The flow run was cancelled.")
    state, _ = await propose(port, FLOW, flow_run_id, cancelled)
    return state


async def _futures_to_states(value: Any) -> Any:
    if isinstance(value, PrefectFuture):
        return await value._wait_engine()
    typ = type(value)
    if typ in (list, tuple, set):
        items = [await _futures_to_states(v) for v in value]
        return typ(items)
    if typ is dict:
        return {k: await _futures_to_states(v) for k, v in value.items()}
    return value


async def _children_states(ctx: FlowRunContext) -> list[State]:
    out = []
    for child in ctx.children:
        out.append(await ctx.task_runner.wait(child) if isinstance(child, PrefectFuture) else child)
    return out


def _persist_settings(flow: Any, parent: FlowRunContext | None) -> tuple[bool, bool]:
    """(persist this run's result, persist its children's results by default). The flow's own
    persist_result decides both; otherwise the parent's default for children (or the global
    setting) applies, and a flow with retries persists its children's results so that a
    retry can reuse them."""
    inherited = parent.persist_children if parent is not None else settings.persist_results_default()
    if flow.persist_result is not None:
        return flow.persist_result, flow.persist_result
    return inherited, inherited or flow._retries() > 0


async def drive_flow_run(
    call: Any, flow_run: FlowRun, parameters: dict, first: OrchestrationResult | None = None
) -> rtm.Outcome:
    """`first`: the answer to a Running proposal already sent with the run's creation."""
    # The run enters its own task runner for its whole length, retries included.
    async with call.flow.task_runner.duplicate() as task_runner:
        return await _orchestrate(call, flow_run, parameters, task_runner, first)


async def _orchestrate(
    call: Any, flow_run: Any, parameters: dict, task_runner: Any, first: Any
) -> rtm.Outcome:
    rt = rtm.get_runtime()
    port = rt.port
    flow = call.flow
    parent = call.parent
    links = parent.task_run_results if parent is not None else None

    try:
        if call.wait_for is not None:
            await resolve_wait_for(call.wait_for, links)
        if parent is not None:
            parameters, _ = await resolve_parameters(parameters, links)
    except UpstreamTaskError as exc:
        not_ready = State(StateType.PENDING, name="NotReady", message=str(exc))
        state, _ = await propose(port, FLOW, flow_run.id, not_ready, force=True)
        return rtm.Outcome(state)

    persist, persist_children = _persist_settings(flow, parent)
    factory = ResultFactory(persist, flow.result_storage, flow.result_serializer)
    log_prints = (
        flow.log_prints
        if flow.log_prints is not None
        else (parent.log_prints if parent is not None else settings.log_prints())
    )
    reraise: BaseException | None = None
    # A run this process drives from the top is stopped as soon as it is asked to cancel.
    cancel = rt.holder.cancel_event(flow_run.id) if parent is None else None
    try:
        state, run_count = await propose(port, FLOW, flow_run.id, State(StateType.RUNNING), first=first)
        if state.type is StateType.RUNNING and flow.on_running:
            flow_run.state = state
            # Once, when the run first enters Running (not again when a retry does), as in Prefect.
            await _run_hooks(flow, flow_run, state, call, flow.on_running)
        while state.type is StateType.RUNNING:
            flow_run.run_count = run_count
            flow_run.state = state
            ctx = FlowRunContext(
                flow=flow,
                flow_run=flow_run,
                parameters=parameters,
                task_runner=task_runner,
                result_factory=factory,
                persist_children=persist_children,
                log_prints=log_prints,
                user_loop=call.loop if call.where == "loop" else None,
                tags=call.tags,
            )
            outcome = await _run_body_unless_cancelled(call, ctx, parameters, cancel)
            if outcome is CANCEL_REQUESTED:
                state = await _end_cancelled(port, flow_run.id) or state
                break
            children = await _children_states(ctx)
            interrupt = _child_interrupt(children)
            if (
                interrupt is not None
                and outcome is not None
                and (outcome.exc is None or not is_crash(outcome.exc))
            ):
                outcome = rtm.Outcome(exc=interrupt)  # an interrupt in a submitted task ends the flow too
            if outcome is None:  # the body ran past the flow's timeout
                timeout = TimeoutError(f"Flow run exceeded timeout of {flow.timeout_seconds} seconds")
                final = State(StateType.FAILED, name="TimedOut", message=str(timeout), data=timeout)
            elif outcome.exc is not None:
                raised = outcome.exc
                if isinstance(raised, Abort):
                    ended = await _end_cancelled(port, flow_run.id)
                    if ended is not None:  # a task refused because the run is Cancelling
                        state = ended
                        break
                    stored = await port.read_flow_run(flow_run.id)
                    return rtm.Outcome(stored.state, raised)
                if isinstance(raised, FlowPauseTimeout):
                    # The orchestrator's expiry loop may have failed the run already: adopt that.
                    stored = await port.read_flow_run(flow_run.id)
                    if stored.state is not None and stored.state.is_final():
                        state = stored.state
                        break
                if isinstance(raised, PausedRun):
                    stored = await port.read_flow_run(flow_run.id)
                    if stored.state is not None and stored.state.is_paused():
                        state = stored.state
                        break
                    final = _pause_from(raised)
                elif is_crash(raised):
                    state, _ = await propose(port, FLOW, flow_run.id, crashed_state(raised))
                    reraise = raised
                    break
                else:
                    flow_run_logger(flow_run, flow).error(
                        "Encountered exception during execution:", exc_info=raised
                    )
                    final = State(
                        StateType.FAILED,
                        message=f"Flow run encountered an exception. {type(raised).__name__}: {raised}",
                        data=raised,
                    )
            else:
                value = outcome.value
                if value is None and children:
                    value = children
                else:
                    value = await _futures_to_states(value)
                final = return_value_to_state(value)
            if final._data is not _UNSET:
                final.result_ref = factory.create_ref(final._data)
            # The run's log lines reach the orchestrator before its final state does, so a
            # watcher that stops at the final state has seen them all.
            await _logship.flush(port)
            state, run_count = await propose(port, FLOW, flow_run.id, final)
            if not state.is_final() and state.type in (StateType.SCHEDULED, StateType.PENDING):
                flow_run_logger(flow_run, flow).info(rerun_message(state, final))
                state, run_count = await propose(port, FLOW, flow_run.id, State(StateType.RUNNING))
    except Abort as exc:
        log.debug("Flow run %s aborted by the orchestrator: %s", flow_run.id, exc)
        ended = await _end_cancelled(port, flow_run.id)
        if ended is None:
            stored = await port.read_flow_run(flow_run.id)
            return rtm.Outcome(stored.state)
        state = ended
    flow_run.state = state
    await finish_flow_run(flow, flow_run, state, call)
    return rtm.Outcome(state, reraise)


def _child_interrupt(children: list[State]) -> BaseException | None:
    for child in children:
        if child.type is StateType.CRASHED and child.has_data() and is_crash(child._data):
            return child._data
    return None


def _pause_from(exc: PausedRun) -> State:
    src = exc.state
    pause = State(StateType.PAUSED)
    if isinstance(src, State) and src.is_paused():
        d = src.state_details
        pause.state_details.pause_timeout = d.pause_timeout
        pause.state_details.pause_reschedule = d.pause_reschedule
        pause.state_details.pause_key = d.pause_key
    return pause


async def finish_flow_run(flow: Any, flow_run: Any, state: State, call: Any) -> None:
    flow_run_logger(flow_run, flow).info("Finished in state %r", state)
    hooks = {
        StateType.COMPLETED: flow.on_completion,
        StateType.FAILED: flow.on_failure,
        StateType.CRASHED: flow.on_crashed,
        StateType.CANCELLED: flow.on_cancellation,
        StateType.CANCELLING: flow.on_cancellation,
    }.get(state.type)
    await _run_hooks(flow, flow_run, state, call, hooks or [])
    # The run's own lines were sent before its final state; this last line and the hooks'
    # go with the next periodic flush (or at exit), not on the caller's time.


async def _run_hooks(flow: Any, flow_run: Any, state: State, call: Any, hooks: list) -> None:
    """Each hook in turn; one that raises is logged and the others still run."""
    rt = rtm.get_runtime()
    for hook in hooks:
        if inspect.iscoroutinefunction(hook):
            out = await rtm.run_on_loop(
                call.loop or rt.user_loop(), functools.partial(hook, flow, flow_run, state)
            )
        else:
            out = await rtm.run_in_thread(rt, hook, flow, flow_run, state)
        if out.exc is not None:
            log.error("Hook %r of flow %r raised %r", getattr(hook, "__name__", hook), flow.name, out.exc)
