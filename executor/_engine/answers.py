"""Proposing states and honouring the orchestrator's answers: ACCEPT proceeds, REJECT adopts
the state the orchestrator returns, WAIT sleeps and proposes again, ABORT stops the run."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cadenza.v1 import orchestrator_pb2 as opb

from executor import _convert as cv
from executor.exceptions import Abort, TerminationSignal
from executor.states import State, StateType, new_transition_id

log = logging.getLogger("cadenza.engine")

FLOW = opb.RUN_KIND_FLOW
TASK = opb.RUN_KIND_TASK
_ACCEPT = opb.PROPOSAL_STATUS_ACCEPT
_REJECT = opb.PROPOSAL_STATUS_REJECT
_WAIT = opb.PROPOSAL_STATUS_WAIT
_ABORT = opb.PROPOSAL_STATUS_ABORT

# One sleep never exceeds this; a longer WAIT is simply proposed again after it.
MAX_WAIT_SECONDS = 60.0


def wait_delay(delay: float, attempt: int) -> float:
    """The server's delay, or capped exponential backoff when it gives none."""
    if delay > 0:
        return min(delay, MAX_WAIT_SECONDS)
    return min(0.005 * (2 ** min(attempt, 10)), 1.0)


def adopt_accepted(state: State, pb_state: Any) -> State:
    """ACCEPT: keep our object (and its in-memory data) but take the server's stamps."""
    state.id = pb_state.id or None
    state.name = pb_state.name or state.name
    state.timestamp = cv.dt_from_pb(pb_state.timestamp)
    state.state_details = cv.details_from_pb(pb_state.details)
    return state


async def propose(
    stream: Any,
    kind: int,
    run_id: str,
    state: State,
    *,
    force: bool = False,
    first: Any = None,
) -> tuple[State, int]:
    """Propose `state` until the orchestrator decides; return (the run's state, run_count).

    WAIT sleeps and proposes again in a loop (never recursion) with a fresh transition id;
    ABORT raises Abort. `first` is an answer already received (CreateTaskRun's next_state)."""
    resp = first
    attempt = 0
    while True:
        if resp is None:
            req = opb.ProposeStateRequest(
                run_kind=kind,
                run_id=run_id,
                state=cv.state_to_pb(state, new_transition_id()),
                force=force,
            )
            resp = await stream.request(propose=req)
        status = resp.status
        if status == _ACCEPT:
            return adopt_accepted(state, resp.state), resp.run_count
        if status == _REJECT:
            return cv.state_from_pb(resp.state), resp.run_count
        if status == _WAIT:
            await asyncio.sleep(wait_delay(resp.delay_seconds, attempt))
            attempt += 1
            resp = None
            continue
        if status == _ABORT:
            raise Abort(resp.reason or "The orchestrator aborted the transition")
        raise RuntimeError(f"Unknown proposal status {status!r}")


def crash_message(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "Execution was aborted by an interrupt signal."
    if isinstance(exc, TerminationSignal):
        return "Execution was aborted by a termination signal."
    if isinstance(exc, SystemExit):
        return "Execution was aborted by Python system exit call."
    if isinstance(exc, asyncio.CancelledError):
        return "Execution was cancelled by the runtime environment."
    return f"Execution was interrupted by an unexpected exception: {type(exc).__name__}: {exc}"


def crashed_state(exc: BaseException) -> State:
    return State(StateType.CRASHED, message=crash_message(exc), data=exc)


def is_crash(exc: BaseException) -> bool:
    """BaseExceptions that are not ordinary errors of user code end a run as Crashed."""
    return not isinstance(exc, Exception) or isinstance(exc, TerminationSignal)
