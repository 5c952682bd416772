"""The lifecycles of flow runs and task runs, as `transitions` state machines.

The machine decides whether an edge between two state types exists at all; the rules
(`rules/`) decide what happens on an edge that exists. Each graph is declared once, below, as
data: `python -m orchestrator.core.machines` prints it.

What is in a graph: every edge on which Prefect 2's core policy can accept the proposal, hand
back a replacement state, ask the caller to WAIT, or ABORT it. What is left out: edges on which
the only possible answer is "stay where you are" (REJECT carrying no state). The machine
refuses those with that same answer, so leaving them out changes no outcome; it only makes
the lifecycle readable. For task runs Cadenza is stricter than Prefect on two points: a CANCELLING
run may only become CANCELLED, and nothing leaves CANCELLED (a forced proposal still can).

Why a refused edge is REJECT(None) rather than ABORT: it is the answer Prefect gives on those
edges (EnforceCancellingToCancelledTransition, "cannot pause a run that is not running", ...),
and it hands the caller the run's current state to adopt, so a client with a stale view
re-synchronises instead of treating its run as aborted. Nothing is stored either way.

Forced proposals bypass the machine (see policy.py): force exists precisely so that the engine
and the server's loops can make moves the ordinary lifecycle refuses.
"""

from __future__ import annotations

from transitions import Machine, MachineError

from .models import StateType

NONE = "NONE"  # a run that has no state yet

S, P, R = StateType.SCHEDULED.value, StateType.PENDING.value, StateType.RUNNING.value
C, F, X = StateType.COMPLETED.value, StateType.FAILED.value, StateType.CRASHED.value
CANCELLED, CANCELLING, PAUSED = (
    StateType.CANCELLED.value,
    StateType.CANCELLING.value,
    StateType.PAUSED.value,
)
ANY = (S, P, R, C, F, X, CANCELLED, CANCELLING, PAUSED)
STATES = (NONE, *ANY)

# source -> destinations. Comments name the edges kept only so that a rule can answer them.
FLOW_RUN_GRAPH: dict[str, tuple[str, ...]] = {
    NONE: ANY,  # -> PAUSED: HandlePausingFlows aborts (no state to pause from)
    S: (S, P, R, C, F, X, CANCELLED, CANCELLING),  # -> CANCELLING: replaced by Cancelled
    P: (S, P, R, C, F, X, CANCELLED, CANCELLING),  # -> PENDING: PreventPendingTransitions aborts
    R: ANY,  # -> PENDING: aborted
    # Terminal states: -> CRASHED/CANCELLING/PAUSED are aborted ("already terminal"), and
    # -> SCHEDULED is aborted without a deployment.
    C: ANY,
    F: ANY,
    X: ANY,
    CANCELLED: (CANCELLED, S, X, CANCELLING, PAUSED),  # only the self-loop can be accepted
    CANCELLING: (CANCELLED,),
    PAUSED: (S, R, C, F, X, CANCELLED, CANCELLING),  # -> CANCELLING: Cancelled or stay
}

TASK_RUN_GRAPH: dict[str, tuple[str, ...]] = {
    NONE: ANY,
    S: ANY,
    P: ANY,
    R: ANY,
    C: ANY,  # -> CRASHED/CANCELLING/PAUSED: HandleTaskTerminalStateTransitions aborts
    F: ANY,
    X: ANY,
    CANCELLED: (CANCELLED, X, CANCELLING, PAUSED),  # only the self-loop can be accepted
    CANCELLING: (CANCELLED,),
    PAUSED: ANY,
}


def trigger_name(dest: str) -> str:
    return f"propose_{dest.lower()}"


def _build(graph: dict[str, tuple[str, ...]]) -> Machine:
    transitions = [
        {"trigger": trigger_name(dest), "source": source, "dest": dest}
        for source, dests in graph.items()
        for dest in dests
    ]
    # model=None and no add_model: add_model would reset a model to `initial`. Each proposal
    # fires on a throwaway cursor instead (see `fire`).
    return Machine(
        model=None,
        states=list(STATES),
        transitions=transitions,
        auto_transitions=False,
        send_event=True,
        initial=NONE,
    )


FLOW_RUN_MACHINE = _build(FLOW_RUN_GRAPH)
TASK_RUN_MACHINE = _build(TASK_RUN_GRAPH)

_TRIGGERS = {t: trigger_name(t.value) for t in StateType}


class _Cursor:
    """The smallest model a trigger can fire on: just the current state's name."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


def fire(machine: Machine, from_type: StateType | None, to_type: StateType) -> bool:
    """Ask the machine itself: fire the proposal's trigger on a cursor at `from_type`."""
    cursor = _Cursor(NONE if from_type is None else from_type.value)
    try:
        return machine.events[_TRIGGERS[to_type]].trigger(cursor)
    except MachineError:
        return False


def _has_guards(machine: Machine) -> bool:
    return any(
        transition.conditions  # `unless` guards are stored here too
        for event in machine.events.values()
        for transitions in event.transitions.values()
        for transition in transitions
    )


# The graphs carry no guards, so the machine's verdict on a pair never changes: each pair is
# fired once and remembered. Firing costs ~10 us here, a remembered verdict ~0.1 us, and this
# sits on the hot path of every task. A machine given guards is fired every time.
_verdicts: dict[tuple[int, StateType | None, StateType], bool] = {}
_PURE = {id(m) for m in (FLOW_RUN_MACHINE, TASK_RUN_MACHINE) if not _has_guards(m)}


def allows(machine: Machine, from_type: StateType | None, to_type: StateType) -> bool:
    """True when the lifecycle has an edge from `from_type` (None: no state yet) to `to_type`."""
    if id(machine) not in _PURE:
        return fire(machine, from_type, to_type)
    key = (id(machine), from_type, to_type)
    verdict = _verdicts.get(key)
    if verdict is None:
        verdict = _verdicts[key] = fire(machine, from_type, to_type)
    return verdict


def describe(graph: dict[str, tuple[str, ...]]) -> str:
    return "\n".join(f"{source:>10} -> {', '.join(dests)}" for source, dests in graph.items())


if __name__ == "__main__":
    print("flow runs:\n" + describe(FLOW_RUN_GRAPH))
    print("\ntask runs:\n" + describe(TASK_RUN_GRAPH))
