"""Proposing states and honouring the orchestrator's answers: ACCEPT proceeds, REJECT adopts
the state the orchestrator returns, WAIT sleeps and proposes again, ABORT stops the run."""

from __future__ import annotations

import asyncio

from executor._engine import lease_watch
from executor._port import ABORT, ACCEPT, REJECT, WAIT, OrchestrationResult, OrchestratorPort, RunKind
from executor.exceptions import Abort, TerminationSignal
from executor.states import State, StateType, new_transition_id

FLOW = RunKind.FLOW
TASK = RunKind.TASK

# One sleep never exceeds this; a longer WAIT is simply proposed again after it.
MAX_WAIT_SECONDS = 60.0


def wait_delay(delay: float, attempt: int) -> float:
    """The server's delay, or capped exponential backoff when it gives none."""
    if delay > 0:
        return min(delay, MAX_WAIT_SECONDS)
    return min(0.005 * (2 ** min(attempt, 10)), 1.0)


async def propose(
    port: OrchestratorPort,
    kind: RunKind,
    run_id: str,
    state: State,
    *,
    force: bool = False,
    first: OrchestrationResult | None = None,
) -> tuple[State, int]:
    """Propose `state` until the orchestrator decides; return (the run's state, run_count).

    ACCEPT returns the proposed object, stamped; REJECT the state to adopt. WAIT sleeps
    and proposes again in a loop (never recursion) with a fresh transition id; ABORT raises
    Abort. `first` is an answer already received (to the next state sent with a creation)."""
    answer = first
    attempt = 0
    while True:
        if answer is None:
            answer = await port.propose_state(
                kind, run_id, state, force=force, transition_id=new_transition_id()
            )
        status = answer.status
        if status == ACCEPT:  # the port stamped `state` itself, or the next state of a creation
            return (state if answer.state is None else answer.state), answer.run_count
        if status == REJECT:
            rejected = answer.state
            assert rejected is not None, "a REJECT carries the state to take instead"
            return rejected, answer.run_count
        if status == WAIT:
            await asyncio.sleep(wait_delay(answer.delay_seconds, attempt))
            attempt += 1
            answer = None
            continue
        if status == ABORT:
            watch = lease_watch.active()
            if watch is not None:
                await watch.verify()  # an ABORT because the claim was taken away ends the process
            raise Abort(answer.reason or "The orchestrator aborted the transition")
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


def rerun_message(state: State, final: State) -> str:
    """What a run logs when the orchestrator answers its final state with AwaitingRetry."""
    return (
        f"Received non-final state {state.name!r} when proposing final state {final.name!r}"
        " and will attempt to run again..."
    )
