"""ListFlowRuns and ListTaskRuns: pages, tokens and filters."""

from __future__ import annotations

from cadenza.v1 import orchestrator_pb2 as pb

from ._helpers import (
    COMPLETED,
    FLOW,
    PENDING,
    RUNNING,
    TASK,
    accepted,
    all_flow_runs,
    all_task_runs,
    new_flow,
    new_task,
    running_flow,
    state,
)


def test_list_flow_runs_pages(stub):
    made = [new_flow(stub, flow_name=f"f{i}").id for i in range(7)]
    seen, token, sizes = [], "", []
    while True:
        page = stub.ListFlowRuns(pb.ListFlowRunsRequest(page_size=3, page_token=token))
        sizes.append(len(page.flow_runs))
        seen += [r.id for r in page.flow_runs]
        token = page.next_page_token
        if not token:
            break
    assert sizes == [3, 3, 1]
    assert seen == made  # creation order, each run once
    exact = stub.ListFlowRuns(pb.ListFlowRunsRequest(page_size=7))
    assert len(exact.flow_runs) == 7 and not exact.next_page_token
    default = stub.ListFlowRuns(pb.ListFlowRunsRequest())
    assert [r.id for r in default.flow_runs] == made and not default.next_page_token


def test_list_flow_runs_filters(stub):
    both = new_flow(stub, flow_name="a", tags=["etl", "nightly"])
    etl = running_flow(stub, flow_name="b", tags=["etl"])
    plain = new_flow(stub, flow_name="a")
    done = running_flow(stub, flow_name="c", tags=["nightly"])
    accepted(stub, FLOW, done.id, state(COMPLETED))
    tracker = new_task(stub, etl.id, "sub")
    child = new_flow(stub, flow_name="child", parent_task_run_id=tracker.id)

    def listed(**kw):
        return [r.id for r in all_flow_runs(stub, page_size=2, **kw)]

    assert listed(tags=["etl"]) == [both.id, etl.id]
    assert listed(tags=["etl", "nightly"]) == [both.id]
    assert listed(state_types=[RUNNING]) == [etl.id]
    assert listed(state_types=[PENDING]) == [both.id, plain.id, child.id]
    assert listed(state_types=[RUNNING, COMPLETED]) == [etl.id, done.id]
    assert listed(parent_task_run_id=tracker.id) == [child.id]
    assert listed(flow_name="a") == [both.id, plain.id]
    assert listed(flow_name="a", tags=["nightly"]) == [both.id]
    # The listing reflects the current state type.
    accepted(stub, FLOW, both.id, state(RUNNING))
    assert listed(state_types=[RUNNING]) == [both.id, etl.id]


def test_list_task_runs_pages_and_filters(stub):
    flow = running_flow(stub)
    other = running_flow(stub)
    tasks = [new_task(stub, flow.id, f"t{i}", tags=["db"] if i % 2 else []).id for i in range(5)]
    new_task(stub, other.id, "elsewhere")
    accepted(stub, TASK, tasks[0], state(RUNNING))
    accepted(stub, TASK, tasks[1], state(RUNNING))

    seen, token, sizes = [], "", []
    while True:
        page = stub.ListTaskRuns(pb.ListTaskRunsRequest(flow_run_id=flow.id, page_size=2, page_token=token))
        sizes.append(len(page.task_runs))
        seen += [r.id for r in page.task_runs]
        token = page.next_page_token
        if not token:
            break
    assert sizes == [2, 2, 1]
    assert seen == tasks

    assert len(all_task_runs(stub)) == 6
    assert [r.id for r in all_task_runs(stub, flow_run_id=flow.id, state_types=[RUNNING])] == tasks[:2]
    assert [r.id for r in all_task_runs(stub, flow_run_id=flow.id, tags=["db"], page_size=2)] == [
        tasks[1],
        tasks[3],
    ]
    assert [r.id for r in all_task_runs(stub, flow_run_id=flow.id, state_types=[PENDING], tags=["db"])] == [
        tasks[3]
    ]
