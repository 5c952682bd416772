"""The doors of the decision core: what a proposal needs gathered, and the decision itself.

    needs = needs_for("task", run, proposal)          # which inputs to gather
    decision, effects = decide("task", run, proposal, inputs, settings)

In order: the fence (a process whose claim was taken away changes nothing), the stale-proposal check, the lifecycle machine (skipped under force), the
policy's rules in priority order, the global bookkeeping, then the rules' after/cleanup hooks
in reverse order. A decision that changes the run is applied to `run` in place; a nullified
one (WAIT, ABORT, REJECT keeping the current state) leaves the run and every limit as found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine

from . import machines
from .bookkeeping import record_flow_transition, record_task_transition
from .fencing import fenced_out
from .inputs import NEEDS_FLOW_RUN, DecisionInputs, Effects, PolicySettings
from .models import Decision, FlowRun, Proposal, State, StateType, Status, TaskRun
from .rules import (
    BypassCancellingScheduledFlowRuns,
    CacheInsertion,
    CacheRetrieval,
    CancelUnheldFlowRunsAtOnce,
    CopyScheduledTime,
    EnforceCancellingToCancelledTransition,
    HandleFlowTerminalStateTransitions,
    HandlePausingFlows,
    HandleResumingPausedFlows,
    HandleTaskTerminalStateTransitions,
    MirrorSubflowStateOntoTracker,
    PreventPendingTransitions,
    PreventRunningTasksFromStoppedFlows,
    ReleaseLeaseWhenWorkEnds,
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

_Edge = tuple[StateType | None, StateType]


@dataclass
class Policy:
    """Rules in priority order; `for_edge` keeps those concerned by one (from, to) pair."""

    name: str
    rules: tuple[Rule, ...]
    _by_edge: dict[_Edge, tuple[Rule, ...]] = field(default_factory=dict, repr=False)
    _needs: dict[_Edge, frozenset[str]] = field(default_factory=dict, repr=False)

    def for_edge(self, from_type: StateType | None, to_type: StateType) -> tuple[Rule, ...]:
        key = (from_type, to_type)
        found = self._by_edge.get(key)
        if found is None:
            found = self._by_edge[key] = tuple(
                rule for rule in self.rules if rule.concerns(from_type, to_type)
            )
        return found

    def needs(self, from_type: StateType | None, to_type: StateType) -> frozenset[str]:
        key = (from_type, to_type)
        found = self._needs.get(key)
        if found is None:
            found = frozenset().union(*(r.NEEDS for r in self.for_edge(from_type, to_type)))
            self._needs[key] = found
        return found


# After-hooks run in reverse order, so the universal transforms at the end see the state as
# every other rule left it.
CORE_FLOW_POLICY = Policy(
    "CoreFlowPolicy",
    (
        HandleFlowTerminalStateTransitions(),
        EnforceCancellingToCancelledTransition(),
        BypassCancellingScheduledFlowRuns(),
        CancelUnheldFlowRunsAtOnce(),
        PreventPendingTransitions(),
        HandlePausingFlows(),
        HandleResumingPausedFlows(),
        CopyScheduledTime(),
        WaitForScheduledTime(),
        RetryFailedFlows(),
        ReleaseLeaseWhenWorkEnds(),
        MirrorSubflowStateOntoTracker(),
    ),
)

CORE_TASK_POLICY = Policy(
    "CoreTaskPolicy",
    (
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
    ),
)

# force=True: the caller knows better than the lifecycle; only bookkeeping and the transforms
# that keep other records true (slots, leases, a subflow's tracker).
MINIMAL_FLOW_POLICY = Policy(
    "MinimalFlowPolicy",
    (
        ReleaseLeaseWhenWorkEnds(),
        MirrorSubflowStateOntoTracker(),
    ),
)
MINIMAL_TASK_POLICY = Policy("MinimalTaskPolicy", (ReleaseTaskConcurrencySlots(),))


@dataclass(frozen=True)
class RunKind:
    label: str
    machine: Machine
    core: Policy
    minimal: Policy
    record: Callable


FLOW_RUNS = RunKind(
    "flow",
    machines.FLOW_RUN_MACHINE,
    CORE_FLOW_POLICY,
    MINIMAL_FLOW_POLICY,
    record_flow_transition,
)
TASK_RUNS = RunKind(
    "task",
    machines.TASK_RUN_MACHINE,
    CORE_TASK_POLICY,
    MINIMAL_TASK_POLICY,
    record_task_transition,
)
KINDS = {"flow": FLOW_RUNS, "task": TASK_RUNS}


def _stay(run: FlowRun | TaskRun, reason: str) -> Decision:
    return Decision(Status.REJECT, run.state, reason, nullified=True)


def _name(state: State | None) -> str:
    return state.type.value if state is not None else "no state"


def _policy(kind: RunKind, from_type: StateType | None, proposal: Proposal) -> Policy | None:
    """The policy deciding this proposal, or None when the lifecycle has no such edge."""
    if proposal.force:
        return kind.minimal
    if machines.allows(kind.machine, from_type, proposal.state.type):
        return kind.core
    return None


_FENCE_NEEDS = frozenset({NEEDS_FLOW_RUN})


_needs_by_edge: dict[tuple, frozenset[str]] = {}


def needs_for(run_kind: str, run: FlowRun | TaskRun, proposal: Proposal) -> frozenset[str]:
    """The inputs (`inputs.NEEDS_*`) the rules deciding this proposal will read."""
    from_type = run.state.type if run.state is not None else None
    edge = (run_kind, from_type, proposal.state.type, proposal.force, bool(proposal.lease_epoch))
    needs = _needs_by_edge.get(edge)
    if needs is None:  # the same for every proposal on this edge: worked out once
        policy = _policy(KINDS[run_kind], from_type, proposal)
        needs = policy.needs(from_type, proposal.state.type) if policy is not None else frozenset()
        if proposal.lease_epoch and run_kind == "task":
            needs = needs | _FENCE_NEEDS  # the fence is the flow run's claim
        _needs_by_edge[edge] = needs
    return needs


def decide(
    run_kind: str,
    run: FlowRun | TaskRun,
    proposal: Proposal,
    inputs: DecisionInputs,
    settings: PolicySettings,
) -> tuple[Decision, Effects]:
    kind = KINDS[run_kind]
    current = run.state
    fenced = fenced_out(run, proposal, inputs.flow_run)
    if fenced:
        return Decision(Status.ABORT, current, fenced, nullified=True), Effects()
    expected = proposal.expected_state_id
    if expected and expected != (current.id if current is not None else ""):
        actual = current.id if current is not None else "none (the run has no state)"
        return _stay(
            run,
            f"Stale proposal: it expected the run's current state to be "
            f"{expected}, but the current state is {actual}.",
        ), Effects()

    from_type, to_type = (current.type if current is not None else None), proposal.state.type
    policy = _policy(kind, from_type, proposal)
    if policy is None:
        return _stay(
            run,
            f"A {kind.label} run cannot go from {_name(current)} to "
            f"{to_type.value}; it stays {_name(current)}.",
        ), Effects()

    t = Transition(run, proposal.state, inputs, settings)
    entered = _enter(policy.for_edge(from_type, to_type), t, to_type)
    if not t.nullified:
        if not t.proposed.details.transition_id:
            # A replacement state (AwaitingRetry, Cached ...) remembers the proposal it
            # answered, so a repeat of that proposal gets the same answer after a restart.
            t.proposed.details.transition_id = proposal.state.details.transition_id
        kind.record(run, t.proposed, t.now)
    _exit(entered, t)
    if t.nullified:
        decision = Decision(t.status, run.state, t.reason, t.delay, nullified=True)
    else:
        decision = Decision(t.status, t.proposed, t.reason)
    return decision, t.effects


def _enter(rules: tuple[Rule, ...], t: Transition, to_type: StateType) -> list[list[Any]]:
    """Run the `before` hooks in priority order; returns (rule, type it expects to stand)."""
    entered: list[list[Any]] = []
    try:
        for rule in rules:
            if t.nullified:
                break  # nothing further to decide
            if not rule.UNIVERSAL and t.proposed.type is not to_type:
                continue  # an earlier rule swapped the state: this rule no longer concerns it
            entered.append([rule, to_type])  # before the hook, so a failing hook is cleaned up
            seen = t.proposed
            rule.before(t)
            if not t.nullified and t.proposed is not seen:
                entered[-1][1] = t.proposed.type  # it expects its own replacement to stand
    except BaseException:
        t.stop()  # leave the run as found, then let the error through
        _exit(entered, t)
        raise
    return entered


def _exit(entered: list[list[Any]], t: Transition) -> None:
    for rule, stands in reversed(entered):
        if not t.nullified and (rule.UNIVERSAL or t.proposed.type is stands):
            rule.after(t)
        else:
            rule.cleanup(t)
