"""Two replicas serving one database at once: what one decides, the other reads and builds on at
once, and a proposal decided on a state the database has moved past is decided again (the
database, not a replica's memory, is the authority)."""

from __future__ import annotations

import pytest

from tests.service._helpers import (
    ACCEPT,
    COMPLETED,
    FLOW,
    PENDING,
    REJECT,
    RUNNING,
    TASK,
    accepted,
    history,
    ids,
    new_flow,
    new_task,
    propose,
    read_flow,
    read_task,
    sname,
    state,
    types,
    uid,
)

from ._helpers import at_once

ROUNDS = 20


def test_a_run_created_through_one_replica_is_read_through_the_other_at_once(pair):
    a, b = pair
    run = new_flow(a.stub, flow_name="seen-at-once")
    assert read_flow(b.stub, run.id).state.id == run.state.id
    running = accepted(a.stub, FLOW, run.id, state(RUNNING))
    # No waiting: the next call through b already answers with a's decision.
    seen = read_flow(b.stub, run.id)
    assert (seen.state.id, seen.state.type) == (running.id, RUNNING)
    assert ids(history(b.stub, FLOW, run.id)) == [run.state.id, running.id]


def test_a_task_run_created_through_one_replica_is_proposed_on_through_the_other(pair):
    a, b = pair
    flow = new_flow(a.stub, flow_name="task-across")
    accepted(b.stub, FLOW, flow.id, state(RUNNING))
    task = new_task(a.stub, flow.id, "t")
    running = accepted(b.stub, TASK, task.id, state(RUNNING), expected=task.state.id)
    done = accepted(a.stub, TASK, task.id, state(COMPLETED), expected=running.id)
    assert read_task(b.stub, task.id).state.id == done.id
    assert types(history(a.stub, TASK, task.id)) == [
        "STATE_TYPE_PENDING",
        "STATE_TYPE_RUNNING",
        "STATE_TYPE_COMPLETED",
    ]


def test_a_stale_expected_state_through_the_other_replica_is_rejected_with_the_current_state(pair):
    a, b = pair
    run = new_flow(a.stub, flow_name="stale")
    b_saw = read_flow(b.stub, run.id).state  # b has seen the run Pending
    running = accepted(a.stub, FLOW, run.id, state(RUNNING), expected=b_saw.id)
    # Completed would be accepted from Running: only the stale expected id refuses it.
    answer = propose(b.stub, FLOW, run.id, state(COMPLETED), expected=b_saw.id)
    assert answer.status == REJECT, (sname(answer.status), answer.reason)
    assert answer.state.id == running.id and answer.state.type == RUNNING
    for replica in pair:
        assert ids(history(replica.stub, FLOW, run.id)) == [b_saw.id, running.id]
        assert read_flow(replica.stub, run.id).state.id == running.id


def test_racing_proposals_on_one_run_through_two_replicas_keep_its_history_one_line(pair):
    for _ in range(ROUNDS):
        run = new_flow(pair[0].stub, flow_name="race")
        line = [run.state.id]
        for target in (RUNNING, COMPLETED):
            # The same proposal, on the same expected state, through both at the same moment.
            answers = at_once(pair, propose, FLOW, run.id, state(target), expected=line[-1])
            statuses = sorted(sname(x.status) for x in answers)
            assert statuses == ["PROPOSAL_STATUS_ACCEPT", "PROPOSAL_STATUS_REJECT"], statuses
            won = next(x.state for x in answers if x.status == ACCEPT)
            lost = next(x.state for x in answers if x.status == REJECT)
            assert lost.id == won.id, "the loser is told the winner's state"
            line.append(won.id)
        for replica in pair:
            states = history(replica.stub, FLOW, run.id)
            assert ids(states) == line
            assert [s.type for s in states] == [PENDING, RUNNING, COMPLETED]


@pytest.mark.parametrize("kind", [FLOW, TASK], ids=["flow", "task"])
def test_a_transition_answered_through_one_replica_is_answered_alike_through_the_other(pair, kind):
    a, b = pair
    flow = new_flow(a.stub, flow_name="transition")
    run_id = flow.id
    if kind == TASK:
        accepted(a.stub, FLOW, flow.id, state(RUNNING))
        run_id = new_task(a.stub, flow.id, "t").id
    tid = uid()
    first = propose(a.stub, kind, run_id, state(RUNNING, transition_id=tid))
    assert first.status == ACCEPT
    before = ids(history(a.stub, kind, run_id))
    # The client lost a's answer and re-sends the very same proposal through b.
    again = propose(b.stub, kind, run_id, state(RUNNING, transition_id=tid))
    assert again == first
    # Still the same answer once the run moved on (recalled, not decided again).
    done = accepted(a.stub, kind, run_id, state(COMPLETED))
    assert propose(b.stub, kind, run_id, state(RUNNING, transition_id=tid)) == first
    assert ids(history(b.stub, kind, run_id)) == [*before, done.id]
