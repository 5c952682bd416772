"""Copies of the records a decision may change, as a retry must find them: made field by field,
since `copy.deepcopy` costs ten times as much and a shared store copies on every request."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .models import FlowRun, Proposal, State, TaskRun


def copy_state(state: State) -> State:
    return replace(state, data=replace(state.data), details=replace(state.details))


def copy_flow_run(run: FlowRun) -> FlowRun:
    policy = replace(run.empirical_policy, pause_keys=set(run.empirical_policy.pause_keys))
    state = copy_state(run.state) if run.state is not None else None
    return replace(run, tags=list(run.tags), empirical_policy=policy, state=state)


def copy_task_run(run: TaskRun) -> TaskRun:
    policy = replace(run.empirical_policy, retry_delay_seconds=list(run.empirical_policy.retry_delay_seconds))
    inputs = {name: list(refs) for name, refs in run.task_inputs.items()}
    state = copy_state(run.state) if run.state is not None else None
    return replace(run, tags=list(run.tags), task_inputs=inputs, empirical_policy=policy, state=state)


def copy_record(value: Any) -> Any:
    """A copy of a proposal, state or run (None stays None); a decision changes none of it."""
    if value is None:
        return None
    if isinstance(value, Proposal):
        return replace(value, state=copy_state(value.state))
    if isinstance(value, State):
        return copy_state(value)
    if isinstance(value, FlowRun):
        return copy_flow_run(value)
    if isinstance(value, TaskRun):
        return copy_task_run(value)
    raise TypeError(f"no copy for {type(value).__name__}")
