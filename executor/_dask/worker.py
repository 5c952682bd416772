"""What a Dask worker runs for one task run: `run_shipment(blob)`.

A worker process keeps one engine runtime, opened on its first task run with the connection
that came with it (address, token and TLS roots), so the worker needs no Cadenza settings of
its own. A worker that is the flow's own process (a cluster of threads) reuses the flow's.
"""

from __future__ import annotations

import logging
import threading

import cloudpickle

from executor import _logship
from executor import _runtime as rtm
from executor._dask.shipping import Shipment, dump_state
from executor._engine.task_run import TaskCall, report_crash, run_attempts, running_state
from executor._wire import Connection
from executor.context import FlowRunContext, TaskRunContext
from executor.loggers import run_logger
from executor.states import State

log = logging.getLogger("cadenza.dask")
_lock = threading.Lock()


def runtime_for(connection: Connection) -> rtm.Runtime:
    """This process's runtime if it reaches the same orchestrator the same way, else a new one
    (installed for this process: the engine and run logs find it through get_runtime())."""
    with _lock:
        rt = rtm.installed_runtime()
        if rt is not None and rt.connection == connection:
            return rt
        rt = rtm.connect(connection.address, connection)
        # A runtime of another orchestrator is left open: runs of it may still be under way.
        rtm.install_runtime(rt)
        return rt


def run_shipment(blob: bytes, connection: Connection) -> bytes:
    """Run the attempts of a shipped task run, reporting to the orchestrator `connection`
    reaches, to its final state; that state, pickled."""
    rt = runtime_for(connection)
    shipment: Shipment = cloudpickle.loads(blob)
    portal = None
    task = shipment.task
    if not task.isasync and not task.timeout_seconds:
        portal = rtm.CallerPortal(rt.loop)  # the function runs in this thread, Dask's own
    done = rt.submit(_attempts(shipment, portal))
    state = portal.wait(done) if portal is not None else done.result()
    packed, left_behind = dump_state(state)
    if left_behind is not None:
        run = shipment.task_run
        run_logger(flow_run_id=run.flow_run_id, task_run_id=run.id).warning(
            "The value of task run %r cannot be pickled back to the flow's process; it gets the "
            "final state without it (%s)",
            run.name,
            left_behind,
        )
        rt.flush_logs()
    return packed


async def _attempts(shipment: Shipment, portal: rtm.CallerPortal | None) -> State:
    rt = rtm.get_runtime()
    task = shipment.task
    # A stand-in for the flow run's context: what a task can read of it, no flow body to run.
    flow_ctx = FlowRunContext(
        flow=None,
        flow_run=shipment.flow_run,
        task_runner=None,
        result_factory=shipment.result_factory,
        persist_children=shipment.persist_children,
        log_prints=shipment.flow_log_prints,
        tags=shipment.tags,
    )
    call = TaskCall(
        task,
        shipment.parameters,
        None,
        flow_ctx,
        shipment.dynamic_key,
        shipment.tags,
        None,
        "caller" if portal is not None else "pool",
        portal=portal,
    )
    log_prints = task.log_prints if task.log_prints is not None else shipment.flow_log_prints
    ctx = TaskRunContext(
        task, shipment.task_run, shipment.parameters, shipment.result_factory, log_prints, flow_ctx
    )
    try:
        state, _ = await run_attempts(call, ctx, running_state(task, shipment.cache_key), shipment.cache_key)
    except Exception as exc:  # the engine failed, not the task: Crashed, as run_task does
        log.debug("Task engine error on a Dask worker", exc_info=True)
        state = await report_crash(shipment.task_run.id, exc)
    finally:
        # The run's lines are stored before the flow's process learns of its end.
        await _logship.flush(rt.port)
    return state
