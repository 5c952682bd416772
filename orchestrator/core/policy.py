"""The two doors of the decision core: propose a state for a flow run or a task run.

    decision, effects = propose_task_state(run, proposal, ctx)

In order: the stale-proposal check, the lifecycle machine (skipped under force), the
policy's rules in priority order, the global bookkeeping, then the rules' after/cleanup hooks
in reverse order. A decision that changes the run is applied to `run` in place; a nullified
one (WAIT, ABORT, REJECT keeping the current state) leaves the run and every limit as found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from transitions import Machine

from . import machines
from .bookkeeping import record_flow_transition, record_task_transition
from .context import Effects, PolicyContext
from .models import Decision, FlowRun, Proposal, State, StateType, Status, TaskRun
from .rules import (
    BypassCancellingScheduledFlowRuns,
    CacheInsertion,
    CacheRetrieval,
    CopyScheduledTime,
    EnforceCancellingToCancelledTransition,
    HandleFlowTerminalStateTransitions,
    HandlePausingFlows,
    HandleResumingPausedFlows,
    HandleTaskTerminalStateTransitions,
    PreventPendingTransitions,
    PreventRunningTasksFromStoppedFlows,
    ReleaseTaskConcurrencySlots,
    RenameReruns,
    RetryFailedFlows,
    RetryFailedTasks,
    Rule,
    SecureTaskConcurrencySlots,
    UpdateFlowRunTrackerOnTasks,
    WaitForScheduledTime,
)
from .transition import Transition


@dataclass
class Policy:
    """Rules in priority order; `for_edge` keeps those concerned by one (from, to) pair."""

    name: str
    rules: tuple[Rule, ...]
    _by_edge: dict = field(default_factory=dict, repr=False)

    def for_edge(self, from_type: StateType | None, to_type: StateType) -> tuple[Rule, ...]:
        key = (from_type, to_type)
        found = self._by_edge.get(key)
        if found is None:
            found = self._by_edge[key] = tuple(
                rule for rule in self.rules if rule.concerns(from_type, to_type)
            )
        return found


CORE_FLOW_POLICY = Policy("CoreFlowPolicy", (
    HandleFlowTerminalStateTransitions(),
    EnforceCancellingToCancelledTransition(),
    BypassCancellingScheduledFlowRuns(),
    PreventPendingTransitions(),
    HandlePausingFlows(),
    HandleResumingPausedFlows(),
    CopyScheduledTime(),
    WaitForScheduledTime(),
    RetryFailedFlows(),
))

CORE_TASK_POLICY = Policy("CoreTaskPolicy", (
    CacheRetrieval(),  # first: a cache hit is served even when slots are full
    HandleTaskTerminalStateTransitions(),
    PreventRunningTasksFromStoppedFlows(),
    SecureTaskConcurrencySlots(),
    CopyScheduledTime(),
    WaitForScheduledTime(),
    RetryFailedTasks(),
    RenameReruns(),
    UpdateFlowRunTrackerOnTasks(),
    CacheInsertion(),
    ReleaseTaskConcurrencySlots(),
))

# force=True: the caller knows better than the lifecycle; only bookkeeping and slot release.
MINIMAL_FLOW_POLICY = Policy("MinimalFlowPolicy", ())
MINIMAL_TASK_POLICY = Policy("MinimalTaskPolicy", (ReleaseTaskConcurrencySlots(),))


@dataclass(frozen=True)
class RunKind:
    label: str
    machine: Machine
    core: Policy
    minimal: Policy
    record: Callable


FLOW_RUNS = RunKind(
    "flow", machines.FLOW_RUN_MACHINE, CORE_FLOW_POLICY, MINIMAL_FLOW_POLICY,
    record_flow_transition,
)
TASK_RUNS = RunKind(
    "task", machines.TASK_RUN_MACHINE, CORE_TASK_POLICY, MINIMAL_TASK_POLICY,
    record_task_transition,
)


def propose_flow_state(
    run: FlowRun, proposal: Proposal, ctx: PolicyContext
) -> tuple[Decision, Effects]:
    return propose(FLOW_RUNS, run, proposal, ctx)


def propose_task_state(
    run: TaskRun, proposal: Proposal, ctx: PolicyContext
) -> tuple[Decision, Effects]:
    return propose(TASK_RUNS, run, proposal, ctx)


def _stay(run, reason: str) -> Decision:
    return Decision(Status.REJECT, run.state, reason, nullified=True)


def _name(state: State | None) -> str:
    return state.type.value if state is not None else "no state"


def propose(
    kind: RunKind, run: FlowRun | TaskRun, proposal: Proposal, ctx: PolicyContext
) -> tuple[Decision, Effects]:
    current = run.state
    expected = proposal.expected_state_id
    if expected and expected != (current.id if current is not None else ""):
        actual = current.id if current is not None else "none (the run has no state)"
        return _stay(run, f"Stale proposal: it expected the run's current state to be "
                          f"{expected}, but the current state is {actual}."), Effects()

    from_type, to_type = (current.type if current is not None else None), proposal.state.type
    if proposal.force:
        rules = kind.minimal.for_edge(from_type, to_type)
    elif machines.allows(kind.machine, from_type, to_type):
        rules = kind.core.for_edge(from_type, to_type)
    else:
        return _stay(run, f"A {kind.label} run cannot go from {_name(current)} to "
                          f"{to_type.value}; it stays {_name(current)}."), Effects()

    t = Transition(run, ctx, proposal.state)
    entered = _enter(rules, t, to_type)
    if not t.nullified:
        kind.record(run, t.proposed, t.now)
    _exit(entered, t)
    if t.nullified:
        decision = Decision(t.status, run.state, t.reason, t.delay, nullified=True)
    else:
        decision = Decision(t.status, t.proposed, t.reason)
    return decision, t.effects


def _enter(rules: tuple[Rule, ...], t: Transition, to_type: StateType) -> list:
    """Run the `before` hooks in priority order; returns (rule, type it expects to stand)."""
    entered: list[list] = []
    try:
        for rule in rules:
            if t.proposed is None:
                break  # nullified: nothing further to decide
            if not rule.UNIVERSAL and t.proposed.type is not to_type:
                continue  # an earlier rule swapped the state: this rule no longer concerns it
            entered.append([rule, to_type])  # before the hook, so a failing hook is cleaned up
            seen = t.proposed
            rule.before(t)
            if t.proposed is not None and t.proposed is not seen:
                entered[-1][1] = t.proposed.type  # it expects its own replacement to stand
    except BaseException:
        t.proposed = None  # leave the run as found, then let the error through
        _exit(entered, t)
        raise
    return entered


def _exit(entered: list, t: Transition) -> None:
    for rule, stands in reversed(entered):
        if t.proposed is not None and (rule.UNIVERSAL or t.proposed.type is stands):
            rule.after(t)
        else:
            rule.cleanup(t)
