"""One task run, start to end: resolve inputs, create the run (and propose Running in the same
round trip), run the function where it belongs, propose the final state, and follow the
orchestrator's answers (AwaitingRetry -> Running again, Cached, Paused/NotReady, ABORT)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from executor import _runtime as rtm
from executor._engine.answers import TASK, crashed_state, is_crash, propose, rerun_message
from executor._engine.task_body import execute
from executor._options import run_name
from executor._port import TaskRunSpec
from executor._resolve import (
    collect_inputs,
    is_untrackable,
    needs_resolution,
    resolve_parameters,
    resolve_wait_for,
)
from executor.context import TaskRunContext
from executor.exceptions import Abort, UpstreamTaskError
from executor.loggers import task_run_logger
from executor.objects import TaskRun
from executor.results import unreadable_reason
from executor.states import (
    State,
    StateType,
    new_transition_id,
)

log = logging.getLogger("cadenza.task_runs")
_LINK_ITEMS_MAX = 1000


class TaskCall:
    """Everything one task call needs, captured in the calling thread."""

    __slots__ = (
        "task",
        "parameters",
        "wait_for",
        "flow_ctx",
        "dynamic_key",
        "tags",
        "future",
        "where",
        "portal",
        "loop",
        "extra_inputs",
        "parent_task_run_id",
    )

    def __init__(
        self,
        task: Any,
        parameters: dict,
        wait_for: Any,
        flow_ctx: Any,
        dynamic_key: int,
        tags: frozenset,
        future: Any,
        where: str,
        portal: Any = None,
        loop: Any = None,
        extra_inputs: list[str] | None = None,
        parent_task_run_id: str | None = None,
    ) -> None:
        self.task = task
        self.parameters = parameters
        self.wait_for = wait_for
        self.flow_ctx = flow_ctx
        self.dynamic_key = dynamic_key
        self.tags = tags
        self.future = future
        self.where = where  # "caller" (portal), "pool" or "loop"
        self.portal = portal
        self.loop = loop
        self.extra_inputs = extra_inputs
        # The task run this one was called in (a nested task), recorded as its "__parents__".
        self.parent_task_run_id = parent_task_run_id


def _task_inputs(
    inputs: dict[str, list[str]],
    wait_ids: list[str] | None,
    extra: list[str] | None,
    parameters: dict,
    parent: str | None = None,
) -> dict[str, list[str]]:
    """Upstream task run ids per parameter (every parameter listed), then under "wait_for" and
    "__parents__"."""
    out: dict[str, list[str]] = {}
    for name in parameters:
        ids = inputs.get(name) or []
        if extra:
            known = set(ids)
            ids = ids + [tid for tid in extra if tid not in known]
        out[name] = ids
    if wait_ids is not None:
        out["wait_for"] = wait_ids
    if parent is not None:  # a nested task: linked to the task run it was called in, as Prefect does
        out["__parents__"] = [parent]
    return out


def _run_name(task: Any, parameters: dict, dynamic_key: int) -> str:
    template = task.task_run_name
    if template is None:
        return f"{task.name}-{dynamic_key}"
    return run_name(template, parameters, "task_run_name")


# Runs the attempts of a created task run somewhere else (a Dask worker): given the call, the
# run, its resolved parameters and cache key, returns the run's final state.
RunElsewhere = Callable[["TaskCall", TaskRun, dict, "str | None"], Awaitable[State]]


async def run_task(call: TaskCall, elsewhere: RunElsewhere | None = None) -> rtm.Outcome:
    """Drive one task run; the Outcome's value is its final state, `exc` an interrupt to re-raise.
    The run is created here; its attempts run here too, or through `elsewhere`."""
    reraise: BaseException | None = None
    try:
        state, reraise = await _orchestrate(call, elsewhere)
    except Exception as exc:
        # The engine itself failed (not the task's code): the run ends Crashed, and the error
        # is not re-raised in the flow, which then fails like for any failed task.
        log.debug("Task engine error", exc_info=True)
        state = await report_crash(call.future._task_run_id, exc)
    except BaseException as exc:  # the engine task was cancelled (the loop is stopping)
        log.debug("Task engine cancelled: %r", exc)
        state = crashed_state(exc)
    call.future._set_state(state)
    return rtm.Outcome(state, reraise)


async def report_crash(task_run_id: str | None, exc: Exception) -> State:
    """End a run Crashed by an engine error (best effort); the Crashed state."""
    state = crashed_state(exc)
    if task_run_id:
        try:
            state, _ = await propose(rtm.get_runtime().port, TASK, task_run_id, state, force=True)
        except Exception:
            log.debug("Could not report the crash of task run %s", task_run_id, exc_info=True)
    return state


def running_state(task: Any, cache_key: str | None) -> State:
    """The Running state a run's first attempt proposes (with what caching needs)."""
    running = State(StateType.RUNNING)
    details = running.state_details
    details.cache_key = cache_key
    details.refresh_cache = task._refresh_cache()
    return running


async def _orchestrate(call: TaskCall, elsewhere: RunElsewhere | None) -> tuple[State, BaseException | None]:
    """Create the run and follow it to its final state; also the interrupt to re-raise."""
    rt = rtm.get_runtime()
    port = rt.port
    task = call.task
    flow_ctx = call.flow_ctx
    links = flow_ctx.task_run_results
    params = call.parameters

    upstream_error: UpstreamTaskError | None = None
    wait_ids: list[str] | None = None
    try:
        if links or needs_resolution(params):
            resolved, inputs = await resolve_parameters(params, links)
        else:
            resolved, inputs = params, {}
        if call.wait_for is not None:
            wait_ids = await resolve_wait_for(call.wait_for, links)
    except UpstreamTaskError as exc:
        upstream_error = exc
        resolved = params
        inputs = {name: await collect_inputs(value, links) for name, value in params.items()}
        if call.wait_for is not None:
            wait_ids = await collect_inputs(call.wait_for, links)

    pre_error: Exception | None = None
    cache_key = None
    try:
        name = _run_name(task, resolved, call.dynamic_key)
        if task.cache_key_fn is not None and upstream_error is None:
            cache_ctx = TaskRunContext(
                task,
                TaskRun(id="", name=name, flow_run_id=flow_ctx.flow_run.id),
                resolved,
                flow_ctx.result_factory,
                False,
                flow_ctx,
            )
            cache_key = task.cache_key_fn(cache_ctx, resolved)
    except Exception as exc:  # a user callable failed: the run is created, then Crashed below
        log.debug("task_run_name or cache_key_fn of task %r raised %r", task.name, exc)
        name = f"{task.name}-{call.dynamic_key}"
        pre_error = exc

    spec = TaskRunSpec(
        flow_run_id=flow_ctx.flow_run.id,
        task_key=task.task_key,
        dynamic_key=str(call.dynamic_key),
        name=name,
        task_version=task.version or "",
        tags=sorted(call.tags),
        task_inputs=_task_inputs(inputs, wait_ids, call.extra_inputs, params, call.parent_task_run_id),
        retries=task._retries(),
        retry_delays=task._retry_delays(),
        retry_jitter_factor=task.retry_jitter_factor,
    )
    running = running_state(task, cache_key)
    if upstream_error is not None:
        spec.state = not_ready = State(StateType.PENDING, name="NotReady", message=str(upstream_error))
    elif pre_error is None and elsewhere is None:  # Running in the same round trip as the creation
        spec.next_state = running
        spec.transition_id = new_transition_id()

    created = await port.create_task_run(spec)
    task_run_id = created.id
    call.future._set_task_run_id(task_run_id)

    if upstream_error is not None:
        if created.created and created.state is not None:  # created just now, NotReady as asked
            return created.state, None
        state, _ = await propose(port, TASK, task_run_id, not_ready, force=True)
        return state, None
    if pre_error is not None:
        state, _ = await propose(port, TASK, task_run_id, crashed_state(pre_error), force=True)
        return state, None

    task_run = TaskRun(
        id=task_run_id,
        name=name,
        flow_run_id=flow_ctx.flow_run.id,
        task_key=task.task_key,
        dynamic_key=spec.dynamic_key,
        tags=list(spec.tags),
    )
    if elsewhere is not None:
        state = await elsewhere(call, task_run, resolved, cache_key)
        if state.type is StateType.COMPLETED and state.has_data():
            _link(links, state)
        return state, None
    log_prints = task.log_prints if task.log_prints is not None else flow_ctx.log_prints
    ctx = TaskRunContext(task, task_run, resolved, flow_ctx.result_factory, log_prints, flow_ctx)
    return await run_attempts(call, ctx, running, cache_key, created.answer)


async def run_attempts(
    call: TaskCall, ctx: TaskRunContext, running: State, cache_key: str | None, first: Any = None
) -> tuple[State, BaseException | None]:
    """Propose `running` for the created run (`first`: the answer already received to it) and
    run attempts until a final state, then the hooks; also the interrupt to re-raise."""
    port = rtm.get_runtime().port
    task = call.task
    task_run = ctx.task_run
    task_run_id = task_run.id
    links = call.flow_ctx.task_run_results
    try:
        state, run_count = await propose(port, TASK, task_run_id, running, first=first)
        if state.type is StateType.COMPLETED:  # handed a result instead of running
            state, run_count = await _unless_unreadable(task_run_id, state, run_count, cache_key)
        while state.type is StateType.RUNNING:
            # Each attempt gets its own copy of the run and its own context: code that kept an
            # earlier attempt's context still sees that attempt's run count and state.
            task_run = dataclasses.replace(task_run, run_count=run_count, state=state)
            ctx = _attempt_context(ctx, task_run)
            outcome = await execute(call, ctx.parameters, ctx)
            raised = outcome.exc
            if raised is not None:
                if not is_crash(raised):  # an engine error while running user code
                    raise raised
                crashed, _ = await propose(port, TASK, task_run_id, crashed_state(raised), force=True)
                return crashed, raised
            final = outcome.value
            if final.type is StateType.COMPLETED and cache_key:
                final.state_details.cache_key = cache_key
                if task.cache_expiration is not None:
                    final.state_details.cache_expiration = _dt.datetime.now(_dt.UTC) + task.cache_expiration
            state, run_count = await propose(port, TASK, task_run_id, final)
            if state is final and final.type is StateType.COMPLETED:
                _link(links, final)
            if not state.is_final() and state.type in (StateType.SCHEDULED, StateType.PENDING):
                # AwaitingRetry: ask to run again (the orchestrator WAITs until its time).
                task_run_logger(task_run, task).info(rerun_message(state, final))
                state, run_count = await propose(port, TASK, task_run_id, State(StateType.RUNNING))
    except Abort as exc:
        stored = await port.read_task_run(task_run_id)
        state = stored.state or State(StateType.PENDING)
        log.debug("Task run %s aborted by the orchestrator: %s", task_run_id, exc)
    if task.on_completion or task.on_failure:
        await _run_hooks(call, task_run, state)
    return state, None


def _attempt_context(ctx: TaskRunContext, task_run: TaskRun) -> TaskRunContext:
    return TaskRunContext(
        ctx.task, task_run, ctx.parameters, ctx.result_factory, ctx.log_prints, ctx.flow_run_context
    )


async def _unless_unreadable(
    task_run_id: str, state: State, run_count: int, cache_key: str | None
) -> tuple[State, int]:
    """A Completed state handed back instead of running (a cache hit, or the result an earlier
    run kept) whose persisted result cannot be read is no result: the task runs again, past the
    cache, so that its new result becomes the newest entry for the key. Nothing is deserialized
    here, so a reference someone planted in the cache never reaches the deserializer."""
    problem = unreadable_reason(state.result_ref)
    if problem is None:
        return state, run_count
    log.warning(
        "Task run %s: its %s result cannot be used, running it again: %s", task_run_id, state.name, problem
    )
    port = rtm.get_runtime().port
    # Forced: a Completed run that kept its result may not leave it otherwise.
    pending = State(StateType.PENDING, message=f"Its result cannot be used, running again: {problem}")
    await propose(port, TASK, task_run_id, pending, force=True)
    again = State(StateType.RUNNING)
    again.state_details.cache_key = cache_key
    again.state_details.refresh_cache = True
    return await propose(port, TASK, task_run_id, again)


def _link(links: dict, state: State) -> None:
    """link_state_to_result: remember which run produced this object (by identity)."""
    data = state._data
    if is_untrackable(data):
        return
    links[id(data)] = state
    if type(data) in (list, tuple) and len(data) <= _LINK_ITEMS_MAX:
        for item in data:
            if not is_untrackable(item) and not isinstance(item, (int, float)):
                links.setdefault(id(item), state)


async def _run_hooks(call: TaskCall, task_run: Any, state: State) -> None:
    hooks = (
        call.task.on_completion
        if state.is_completed()
        else call.task.on_failure
        if state.is_failed()
        else None
    )
    if not hooks:
        return
    rt = rtm.get_runtime()
    for hook in hooks:
        if inspect.iscoroutinefunction(hook):
            out = await rtm.run_on_loop(
                call.loop or rt.user_loop(), functools.partial(hook, call.task, task_run, state)
            )
        else:
            out = await rtm.run_in_thread(rt, hook, call.task, task_run, state)
        if out.exc is not None:
            log.error(
                "Hook %r of task %r raised %r", getattr(hook, "__name__", hook), call.task.name, out.exc
            )
