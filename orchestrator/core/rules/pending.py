"""Guards around PENDING (a run is never submitted twice) and around cancelling runs that never
started (they are cancelled at once)."""

from __future__ import annotations

from ..models import StateType
from ..transition import Transition
from .base import Rule


class PreventPendingTransitions(Rule):
    """The guard against a run being submitted twice: re-runs go through SCHEDULED or RUNNING."""

    FROM = frozenset({StateType.PENDING, StateType.RUNNING, StateType.CANCELLING, StateType.CANCELLED})
    TO = frozenset({StateType.PENDING})

    def before(self, t: Transition) -> None:
        t.abort(f"This run is in a {t.current.type.value} state and cannot transition to a PENDING state.")


class BypassCancellingScheduledFlowRuns(Rule):
    """A run with no live process has nothing to tear down: cancel it at once.

    Cadenza has no infrastructure pid yet, so "no live process" means: still SCHEDULED
    (including a "Resuming" run), or PAUSED with reschedule (its process has exited).
    """

    FROM = frozenset({StateType.SCHEDULED, StateType.PAUSED})
    TO = frozenset({StateType.CANCELLING})

    def before(self, t: Transition) -> None:
        initial = t.current
        if initial.type is StateType.PAUSED and not initial.details.pause_reschedule:
            return  # a blocking pause still has its process, which must tear down
        cancelled = t.new_state(StateType.CANCELLED, message=t.proposed.message)
        t.reject(cancelled, "The run has no running infrastructure; it is cancelled directly.")
