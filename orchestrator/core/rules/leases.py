"""A worker's lease on a flow run ends with the process's work on it."""

from __future__ import annotations

from ..models import State, StateType
from ..transition import Transition
from .base import Rule


def ends_lease(state: State) -> bool:
    """States in which no executor process is working on the run any more. A flow retried
    after a failure (AwaitingRetry) is retried by the process that ran it, which keeps its
    claim: no other worker may start it meanwhile."""
    if state.type is StateType.SCHEDULED:
        return state.name != "AwaitingRetry"
    return state.is_final() or (state.type is StateType.PAUSED and state.details.pause_reschedule)


class ReleaseLeaseWhenWorkEnds(Rule):
    """A final state, a rescheduling pause or a return to SCHEDULED ends the claim; a run
    Scheduled again may be claimed by any worker."""

    UNIVERSAL = True  # whatever the edge, and under force too

    def after(self, t: Transition) -> None:
        run = t.flow
        if run.lease_expiration is None or not ends_lease(t.proposed):
            return
        run.lease_expiration = None
        if t.proposed.type is StateType.SCHEDULED:
            run.worker_id = ""
