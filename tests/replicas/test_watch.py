"""A WatchFlowRun stream on one replica follows a run driven through another (the replicas hear
of each other's commits from the database)."""

from __future__ import annotations

import queue
import time

import pytest

from cadenza.v1 import orchestrator_pb2 as pb
from tests.service._helpers import (
    COMPLETED,
    FLOW,
    PENDING,
    RUNNING,
    TASK,
    TIMEOUT,
    Watch,
    accepted,
    new_flow,
    state,
    tname,
)

LAG = 1.0  # at most this long from a's answer to b's stream carrying the change


def test_a_watch_on_one_replica_sees_each_change_made_through_the_other_within_a_second(pair):
    a, b = pair
    flow = new_flow(a.stub, flow_name="watched")
    watch = Watch(b.stub, flow.id)
    first = watch.next()
    assert first.snapshot and first.state_change.state.id == flow.state.id

    lags: list[float] = []

    def seen_on_b(kind: int, run_id: str, state_id: str, state_type: int) -> pb.WatchFlowRunResponse:
        done = time.monotonic()
        try:
            msg = watch.next(timeout=LAG)
        except queue.Empty:
            pytest.fail(f"b's stream did not carry {state_id} ({tname(state_type)}) within {LAG} s")
        lags.append(time.monotonic() - done)
        change = msg.state_change
        assert not msg.snapshot
        assert (change.run_kind, change.run_id, change.state.id, change.state.type) == (
            kind,
            run_id,
            state_id,
            state_type,
        )
        return msg

    seen_on_b(FLOW, flow.id, accepted(a.stub, FLOW, flow.id, state(RUNNING)).id, RUNNING)
    req = pb.CreateTaskRunRequest(flow_run_id=flow.id, task_key="t")
    task = a.stub.CreateTaskRun(req, timeout=TIMEOUT).task_run
    seen_on_b(TASK, task.id, task.state.id, PENDING)
    seen_on_b(TASK, task.id, accepted(a.stub, TASK, task.id, state(RUNNING)).id, RUNNING)
    seen_on_b(TASK, task.id, accepted(a.stub, TASK, task.id, state(COMPLETED)).id, COMPLETED)
    last = seen_on_b(FLOW, flow.id, accepted(a.stub, FLOW, flow.id, state(COMPLETED)).id, COMPLETED)
    assert last.terminal and watch.ended()
    print(f"watch lag through the other replica: max {max(lags) * 1000:.0f} ms")
