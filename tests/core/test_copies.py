"""Copies a retry starts from: equal to the original, and sharing nothing a decision changes."""

from __future__ import annotations

from orchestrator.core.copies import copy_record
from orchestrator.core.models import (
    FlowRun,
    FlowRunPolicy,
    Proposal,
    State,
    StateType,
    TaskInput,
    TaskRun,
    TaskRunPolicy,
)


def test_a_copied_proposal_shares_no_state_with_the_original():
    proposal = Proposal(State(StateType.RUNNING, message="go"), expected_state_id="s1")
    copy = copy_record(proposal)
    assert copy == proposal
    copy.state.details.transition_id = "changed"
    copy.state.data.storage_key = "changed"
    copy.state.message = "changed"
    assert proposal.state.details.transition_id == ""
    assert proposal.state.data.storage_key == ""
    assert proposal.state.message == "go"


def test_copied_runs_share_no_lists_sets_or_states():
    flow = FlowRun(
        tags=["a"], state=State(StateType.RUNNING), empirical_policy=FlowRunPolicy(pause_keys={"k"})
    )
    task = TaskRun(
        tags=["t"],
        task_inputs={"x": [TaskInput("task_run", "up")]},
        empirical_policy=TaskRunPolicy(retry_delay_seconds=[1.0]),
    )
    flow_copy, task_copy = copy_record(flow), copy_record(task)
    assert (flow_copy, task_copy) == (flow, task)
    flow_copy.tags.append("b")
    flow_copy.empirical_policy.pause_keys.add("other")
    assert flow_copy.state is not None
    flow_copy.state.details.cache_key = "changed"
    task_copy.task_inputs["x"].append(TaskInput("parameter", "p"))
    task_copy.empirical_policy.retry_delay_seconds.append(2.0)
    assert flow.tags == ["a"] and flow.empirical_policy.pause_keys == {"k"}
    assert flow.state is not None and flow.state.details.cache_key == ""
    assert len(task.task_inputs["x"]) == 1 and task.empirical_policy.retry_delay_seconds == [1.0]
    assert copy_record(None) is None
