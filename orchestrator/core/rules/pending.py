"""Guards around PENDING (a run is never submitted twice) and around cancelling runs that no
process works on (they are cancelled at once)."""

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
    """A run with no work under way has nothing to tear down: cancel it at once.

    That is a run still SCHEDULED (including a "Resuming" run) or PAUSED: a rescheduling pause
    has no process any more, and the process of a blocking pause runs nothing while it waits;
    it sees the final state at its next look and stops.
    """

    FROM = frozenset({StateType.SCHEDULED, StateType.PAUSED})
    TO = frozenset({StateType.CANCELLING})

    def before(self, t: Transition) -> None:
        cancelled = t.new_state(StateType.CANCELLED, message=t.proposed.message)
        t.reject(cancelled, "The run has no running infrastructure; it is cancelled directly.")


class CancelUnheldFlowRunsAtOnce(Rule):
    """A started run that no process holds (no worker claim, no script holding it, nothing
    lapsed: nobody ever took a lease) has no one to notice a Cancelling state, so it would
    stay Cancelling forever: it is cancelled at once. A held run goes through Cancelling, and
    its holder stops it; if the holder is gone, its lapsed lease ends the run Cancelled. A
    subflow is driven by its parent's process, which stops it at its next step."""

    FROM = frozenset({StateType.PENDING, StateType.RUNNING})
    TO = frozenset({StateType.CANCELLING})

    def before(self, t: Transition) -> None:
        run = t.flow
        if run.lease_expiration is not None or run.worker_id or run.parent_task_run_id:
            return
        cancelled = t.new_state(StateType.CANCELLED, message=t.proposed.message)
        t.reject(cancelled, "No process holds the run; it is cancelled directly.")
