"""What travels to a Dask worker with one task run, and back; the flow's side of such a run.

The shipment is pickled here, in the flow's process (cloudpickle, as Dask would), so a task
whose function or arguments cannot be pickled fails at once with a message naming it, instead
of failing somewhere inside Dask. Dask then carries plain bytes both ways.
"""

from __future__ import annotations

import copy
import logging
import pickle
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cloudpickle

from executor import _runtime as rtm
from executor._engine.answers import TASK, is_crash, propose
from executor.objects import FlowRun, TaskRun
from executor.results import LocalFileSystem
from executor.states import _UNSET, State, StateType

if TYPE_CHECKING:
    from executor._dask.session import DaskSession
    from executor._engine.task_run import TaskCall

log = logging.getLogger("cadenza.dask")


@dataclass(slots=True)
class Shipment:
    """One created task run, with all its attempts need in a process that has nothing else."""

    task: Any
    task_run: TaskRun
    parameters: dict  # resolved: upstream futures are values by now
    cache_key: str | None
    dynamic_key: int
    tags: frozenset
    flow_run: FlowRun  # the parts a task can see through its context (no parameters, no state)
    result_factory: Any
    flow_log_prints: bool
    persist_children: bool


def _pinned_storage(factory: Any) -> Any:
    """The flow's result store with its directory fixed: a worker without CADENZA_HOME (or with
    another) writes results where this process looks for them."""
    storage = getattr(factory, "storage", None)
    if not isinstance(storage, LocalFileSystem) or storage.basepath is not None:
        return factory
    pinned = copy.copy(factory)
    pinned.storage = LocalFileSystem(storage.root())
    return pinned


def shipment_for(call: TaskCall, task_run: TaskRun, parameters: dict, cache_key: str | None) -> Shipment:
    flow_ctx = call.flow_ctx
    flow_run = flow_ctx.flow_run
    return Shipment(
        task=call.task,
        task_run=task_run,
        parameters=parameters,
        cache_key=cache_key,
        dynamic_key=call.dynamic_key,
        tags=call.tags,
        flow_run=FlowRun(
            id=flow_run.id,
            name=flow_run.name,
            flow_name=flow_run.flow_name,
            tags=list(flow_run.tags),
            run_count=flow_run.run_count,
        ),
        result_factory=_pinned_storage(flow_ctx.result_factory),
        flow_log_prints=flow_ctx.log_prints,
        persist_children=flow_ctx.persist_children,
    )


def dask_key(task_run: TaskRun) -> str:
    # Unique per submission: a flow retry meets the same task run again, and Dask would hand
    # back a result it still holds under a repeated key.
    return f"{task_run.name}-{task_run.id}-{uuid.uuid4().hex[:8]}"


async def run_on_dask(
    session: DaskSession | None, call: TaskCall, task_run: TaskRun, parameters: dict, cache_key: str | None
) -> State:
    """The flow's side of one run on Dask (a `RunElsewhere`): ship it, await its final state."""
    from executor._dask.session import DaskLost
    from executor._dask.worker import run_shipment

    if session is None:
        raise DaskLost(f"the Dask runner had stopped before task run {task_run.name!r} could start")
    rt = rtm.get_runtime()
    if rt.connection is None:
        raise RuntimeError("DaskTaskRunner needs the engine to reach its orchestrator over gRPC")
    shipment = shipment_for(call, task_run, parameters, cache_key)
    # Pickling runs the objects' own code and may take a while: off the engine loop.
    packed = await rtm.run_in_thread(rt, cloudpickle.dumps, shipment)
    if packed.exc is not None:
        if is_crash(packed.exc):
            raise packed.exc
        return await _fail_unpicklable(call, task_run, packed.exc)
    # The connection goes beside the shipment: Dask shows a failed task's arguments in its
    # logs, and the Connection's repr leaves the token out.
    blob = await session.run(run_shipment, (packed.value, rt.connection), dask_key(task_run))
    return load_state(blob)


async def _fail_unpicklable(call: TaskCall, task_run: TaskRun, exc: BaseException) -> State:
    task = call.task
    error = pickle.PicklingError(
        f"Task {task.name!r} cannot be sent to Dask workers: its function or arguments cannot "
        f"be pickled ({type(exc).__name__}: {exc})"
    )
    error.__cause__ = exc
    log.error("Task run %r: %s", task_run.name, error)
    failed = State(StateType.FAILED, message=f"Task run encountered an exception PicklingError: {error}")
    failed._data = error
    state, _ = await propose(rtm.get_runtime().port, TASK, task_run.id, failed)
    return state


# -- the final state, back from the worker ---------------------------------------------------------
def dump_state(state: State) -> tuple[bytes, str | None]:
    """(the state pickled, why its value was left behind or None). A value that cannot be
    pickled stays in the worker: the flow gets the state without it (an exception becomes a
    RuntimeError carrying its text)."""
    try:
        return cloudpickle.dumps(state), None
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
    value = state._data
    stripped = copy.copy(state)
    stripped._data = _UNSET
    if isinstance(value, BaseException):
        stripped._data = RuntimeError(
            f"{type(value).__name__}: {value} (the exception could not be pickled back from the "
            f"Dask worker: {problem})"
        )
    return cloudpickle.dumps(stripped), problem


def load_state(blob: bytes) -> State:
    state = cloudpickle.loads(blob)
    if not isinstance(state, State):
        raise TypeError(f"a Dask worker returned {type(state).__name__}, not a task run's state")
    return state
