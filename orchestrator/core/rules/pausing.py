"""Pausing and resuming flow runs (a pause fires once per key, may time out, and a rescheduling
pause needs a deployment), and keeping tasks of a flow that is not running from starting."""

from __future__ import annotations

from ..inputs import NEEDS_FLOW_RUN
from ..models import StateDetails, StateType
from ..transition import Transition
from .base import ALL_STATE_TYPES, ALL_TYPES, Rule

_MAY_LEAVE_PAUSE_FOR = frozenset(
    {
        StateType.RUNNING,
        StateType.SCHEDULED,
        StateType.COMPLETED,
        StateType.FAILED,
        StateType.CRASHED,
        StateType.CANCELLED,
    }
)
PAUSE_EXPIRED_MESSAGE = "The flow was paused and never resumed."
NOT_RUNNING_FLOW = "The enclosing flow must be running to begin task execution."


class HandlePausingFlows(Rule):
    FROM = ALL_TYPES
    TO = frozenset({StateType.PAUSED})

    def before(self, t: Transition) -> None:
        proposed, run = t.proposed, t.flow
        if t.initial is None:
            t.abort("Cannot pause flows with no state.")
            return
        if t.initial.type is not StateType.RUNNING:
            t.reject(None, "Cannot pause flows that are not currently running.")
            return
        if not proposed.details.pause_key:
            proposed.details.pause_key = t.inputs.new_id()  # an unnamed pause fires once, like any other
        if proposed.details.pause_key in run.empirical_policy.pause_keys:
            t.reject(None, "This pause has already fired.")
            return
        if proposed.details.pause_reschedule:
            if run.parent_task_run_id:
                t.abort("Cannot pause subflows with the reschedule option.")
            elif not run.deployment_id:
                t.abort("Cannot pause flows without a deployment with the reschedule option.")

    def after(self, t: Transition) -> None:
        t.flow.empirical_policy.pause_keys.add(t.proposed.details.pause_key)


class HandleResumingPausedFlows(Rule):
    FROM = frozenset({StateType.PAUSED})
    TO = ALL_STATE_TYPES

    def before(self, t: Transition) -> None:
        initial, proposed, run = t.current, t.proposed, t.flow
        if proposed.type not in _MAY_LEAVE_PAUSE_FOR:
            t.reject(
                None,
                f"This run cannot transition to the {proposed.type.value} state from the PAUSED state.",
            )
            return
        if initial.details.pause_reschedule and not run.deployment_id:
            t.reject(None, "Cannot reschedule a paused flow run without a deployment.")
            return
        timeout = initial.details.pause_timeout
        if timeout is not None and timeout < t.now:
            t.reject(
                t.new_state(StateType.FAILED, message=PAUSE_EXPIRED_MESSAGE),
                "The flow run pause has timed out and can no longer resume.",
            )
            return
        if proposed.type in (StateType.RUNNING, StateType.SCHEDULED):
            # Set before bookkeeping so the resumed RUNNING is not counted as a new attempt
            # (bookkeeping clears the flag on entering RUNNING).
            t.memo[self.name] = run.empirical_policy.resuming
            run.empirical_policy.resuming = True

    def cleanup(self, t: Transition) -> None:
        if self.name in t.memo:
            t.flow.empirical_policy.resuming = t.memo[self.name]


class PreventRunningTasksFromStoppedFlows(Rule):
    FROM = ALL_TYPES
    TO = frozenset({StateType.RUNNING})
    NEEDS = frozenset({NEEDS_FLOW_RUN})

    def before(self, t: Transition) -> None:
        flow_run = t.parent_flow_run()
        flow_state = flow_run.state if flow_run is not None else None
        if flow_run is None or flow_state is None:
            t.abort(NOT_RUNNING_FLOW)
        elif flow_state.type is StateType.PAUSED:
            details = StateDetails(
                pause_timeout=flow_state.details.pause_timeout,
                pause_reschedule=flow_state.details.pause_reschedule,
            )
            t.reject(
                t.new_state(StateType.PAUSED, name="NotReady", details=details),
                f"The flow is paused, new tasks can execute after resuming flow run: {flow_run.id}.",
            )
        elif flow_state.type is not StateType.RUNNING:
            t.abort(NOT_RUNNING_FLOW)
