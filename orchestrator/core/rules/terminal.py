"""Leaving terminal states (never to Crashed, Cancelling or Paused; a kept result is never run
again), and the CANCELLING -> CANCELLED path."""

from __future__ import annotations

from ..inputs import NEEDS_FLOW_RUN
from ..models import ResultKind, StateType
from ..transition import Transition
from .base import ALL_STATE_TYPES, TERMINAL, Rule

# A terminal run may not be marked as any of these afterwards.
_NOT_AFTER_TERMINAL = frozenset({StateType.CANCELLING, StateType.PAUSED, StateType.CRASHED})
# A COMPLETED run whose result can be read back must not run again (flow retries rely on it).
_KEPT_RESULTS = frozenset({ResultKind.PERSISTED, ResultKind.LITERAL})


def _has_kept_result(t: Transition) -> bool:
    initial = t.current
    return initial.type is StateType.COMPLETED and initial.data.kind in _KEPT_RESULTS


class HandleFlowTerminalStateTransitions(Rule):
    FROM = TERMINAL
    TO = ALL_STATE_TYPES

    def before(self, t: Transition) -> None:
        proposed, run = t.proposed, t.flow
        if proposed.type in _NOT_AFTER_TERMINAL:
            t.abort(f"Run is already in terminal state {t.current.type.value}.")
            return
        if _has_kept_result(t) and not proposed.is_final():
            t.reject(None, "Run is already COMPLETED.")
            return
        if proposed.type is StateType.SCHEDULED and not run.deployment_id:
            t.abort("Cannot reschedule a run without an associated deployment.")
            return
        if not proposed.is_final():
            # A run that starts over forgets the pauses of its previous life.
            policy = run.empirical_policy
            t.memo[self.name] = (set(policy.pause_keys), policy.resuming)
            policy.pause_keys = set()
            policy.resuming = False

    def cleanup(self, t: Transition) -> None:
        saved = t.memo.get(self.name)
        if saved is not None:
            policy = t.flow.empirical_policy
            policy.pause_keys, policy.resuming = saved


class HandleTaskTerminalStateTransitions(Rule):
    FROM = TERMINAL
    TO = ALL_STATE_TYPES
    NEEDS = frozenset({NEEDS_FLOW_RUN})

    def before(self, t: Transition) -> None:
        proposed, run = t.proposed, t.task
        if proposed.type in _NOT_AFTER_TERMINAL:
            t.abort(f"Run is already {t.current.type.value}.")
            return
        if _has_kept_result(t):
            t.reject(None, "This run is already completed.")
            return
        t.memo[self.name] = run.run_count
        if not proposed.is_final():
            run.run_count = 0  # a task that starts over gets its retries again
        if proposed.type is StateType.RUNNING:
            flow_run = t.parent_flow_run()
            if flow_run is not None and run.flow_run_run_count < flow_run.run_count:
                proposed.name = "Retrying"  # its flow has retried since this task last ran

    def cleanup(self, t: Transition) -> None:
        if self.name in t.memo:
            t.task.run_count = t.memo[self.name]


class EnforceCancellingToCancelledTransition(Rule):
    FROM = frozenset({StateType.CANCELLING, StateType.CANCELLED})
    TO = ALL_STATE_TYPES - {StateType.CANCELLED}

    def before(self, t: Transition) -> None:
        t.reject(
            None,
            "Cannot transition flows that are cancelling or cancelled to a state other than Cancelled.",
        )
