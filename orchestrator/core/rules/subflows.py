"""A subflow's run is tracked by a task run of its parent flow, which shows the same states."""

from __future__ import annotations

from dataclasses import replace

from ..inputs import FollowUp
from ..models import Proposal
from ..transition import Transition
from .base import Rule


class MirrorSubflowStateOntoTracker(Rule):
    """Every state a subflow takes is copied, forced, onto its tracking task run in the same
    commit; the copy names the child flow run it came from."""

    UNIVERSAL = True  # whatever the edge, and under force too

    def after(self, t: Transition) -> None:
        tracker_id = t.flow.parent_task_run_id
        if not tracker_id:
            return
        state = t.proposed
        details = replace(state.details, child_flow_run_id=t.run.id, transition_id="")
        copy = state.fresh_copy(t.inputs.new_id(), t.now, details=details)
        t.effects.follow_ups.append(FollowUp("task", tracker_id, Proposal(copy, force=True)))
