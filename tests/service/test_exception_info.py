"""What a run raised, proposed with its Failed state: stored with the run and given back by its
reads, history and watch (not by list pages, which leave the traceback out), carried onto
the AwaitingRetry state of a retried failure, and bounded at the edge."""

from __future__ import annotations

import grpc

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb

from ._helpers import (
    FAILED,
    FLOW,
    REJECT,
    RUNNING,
    SCHEDULED,
    TASK,
    TIMEOUT,
    accepted,
    all_flow_runs,
    all_task_runs,
    expect_error,
    history,
    new_task,
    propose,
    read_flow,
    read_task,
    running_flow,
    state,
    uid,
)

TRACEBACK = "Traceback (most recent call last):\n  File \"etl.py\", line 3, in load\nKeyError: 'id'\n"


def failed(traceback: str = TRACEBACK) -> spb.State:
    st = state(FAILED, message="Flow run encountered an exception. KeyError: 'id'")
    st.exception.CopyFrom(spb.ExceptionInfo(type="KeyError", message="'id'", traceback=traceback))
    return st


def test_a_failure_is_read_back_with_what_it_raised(stub):
    name = f"raises-{uid()}"
    flow = running_flow(stub, flow_name=name)
    stored = accepted(stub, FLOW, flow.id, failed())
    want = ("KeyError", "'id'", TRACEBACK)

    def triple(st: spb.State) -> tuple[str, str, str]:
        return st.exception.type, st.exception.message, st.exception.traceback

    assert triple(stored) == want
    assert triple(read_flow(stub, flow.id).state) == want
    assert triple(history(stub, FLOW, flow.id)[-1]) == want
    events = list(stub.WatchFlowRun(pb.WatchFlowRunRequest(flow_run_id=flow.id), timeout=TIMEOUT))
    flow_states = [e.state_change.state for e in events if e.state_change.run_id == flow.id]
    assert triple(flow_states[-1]) == want

    # A page of runs says what each raised, without the traceback: read the run for that.
    (listed,) = all_flow_runs(stub, flow_name=name)
    assert triple(listed.state) == ("KeyError", "'id'", "")

    # States that raised nothing carry nothing.
    assert not history(stub, FLOW, flow.id)[0].HasField("exception")


def test_a_task_failure_is_kept_on_the_task_run_and_on_its_retry(stub):
    flow = running_flow(stub)
    task = new_task(stub, flow.id, empirical_policy=pb.TaskRunPolicy(retries=1, retry_delay_seconds=[0]))
    accepted(stub, TASK, task.id, state(RUNNING))
    retry = propose(stub, TASK, task.id, failed())
    assert retry.status == REJECT and retry.state.type == SCHEDULED, retry
    assert retry.state.exception.type == "KeyError"  # why the task is retried
    accepted(stub, TASK, task.id, state(RUNNING))
    final = accepted(stub, TASK, task.id, failed())
    assert final.exception.traceback == TRACEBACK
    assert read_task(stub, task.id).state.exception.traceback == TRACEBACK
    (listed,) = all_task_runs(stub, flow_run_id=flow.id)
    assert listed.state.exception.type == "KeyError" and not listed.state.exception.traceback


def test_an_oversized_traceback_is_refused_naming_the_field(stub):
    flow = running_flow(stub)
    expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        stub.ProposeState,
        pb.ProposeStateRequest(run_kind=FLOW, run_id=flow.id, state=failed("x" * (65 * 1024))),
        names_field="state.exception.traceback",
    )
    assert read_flow(stub, flow.id).state.type == RUNNING  # nothing was stored
