"""Global bookkeeping: what every change of state records on the run (times, counts, ids).

Runs for forced transitions too, and only for transitions that change the run (never for a
WAIT, an ABORT or a REJECT that keeps the current state). The validated state is stamped with
the orchestrator's clock, so that run times never depend on the caller's clock.
"""

from __future__ import annotations

from datetime import datetime

from .models import FlowRun, State, StateType, TaskRun


def _record(run: FlowRun | TaskRun, state: State, now: datetime) -> None:
    previous = run.state
    state.timestamp = now
    scheduled = state.type is StateType.SCHEDULED
    if scheduled and state.details.scheduled_time is None:
        state.details.scheduled_time = now  # "scheduled" with no time means now
    if state.type is StateType.RUNNING and run.start_time is None:
        run.start_time = now  # the first start only
    if previous is not None and previous.is_final() and not state.is_final():
        run.end_time = None  # it is running its course again
    if state.is_final() and run.start_time is not None and run.end_time is None:
        run.end_time = now
    if previous is not None and previous.type is StateType.RUNNING:
        run.total_run_time += max(0.0, (now - previous.timestamp).total_seconds())
    if run.expected_start_time is None:
        run.expected_start_time = state.details.scheduled_time if scheduled else now
    if previous is not None and previous.type is StateType.SCHEDULED:
        run.next_scheduled_start_time = None
    if scheduled:
        run.next_scheduled_start_time = state.details.scheduled_time
    run.state = state


def record_flow_transition(run: FlowRun, state: State, now: datetime) -> None:
    state.details.flow_run_id = run.id
    # A subflow's states point at the parent's task run that tracks it.
    state.details.task_run_id = run.parent_task_run_id
    policy = run.empirical_policy
    if state.type is StateType.RUNNING and not policy.resuming:
        run.run_count += 1  # a resumed run continues its attempt; it does not start one
    if state.type is StateType.RUNNING or state.is_final():
        policy.resuming = False
    _record(run, state, now)


def record_task_transition(run: TaskRun, state: State, now: datetime) -> None:
    state.details.flow_run_id = run.flow_run_id
    state.details.task_run_id = run.id
    if state.type is StateType.RUNNING:
        run.run_count += 1
    _record(run, state, now)
