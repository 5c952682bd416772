"""WatchFlowRun (snapshot, then live changes, then terminal) and the logs it carries."""

from __future__ import annotations

from cadenza.v1 import orchestrator_pb2 as pb

from ._helpers import (
    COMPLETED,
    FLOW,
    PENDING,
    RUNNING,
    TASK,
    Watch,
    accepted,
    new_flow,
    new_task,
    running_flow,
    state,
)


def _change(msg):
    assert msg.WhichOneof("event") == "state_change", msg
    c = msg.state_change
    return (c.run_kind, c.run_id, c.state.type)


def test_snapshot_then_live_changes_in_order_then_terminal(stub):
    flow = new_flow(stub)
    task_a = new_task(stub, flow.id, "a")
    task_b = new_task(stub, flow.id, "b")

    watch = Watch(stub, flow.id)
    snapshot = watch.take(3)
    assert all(m.snapshot and not m.terminal for m in snapshot)
    assert _change(snapshot[0]) == (FLOW, flow.id, PENDING)
    assert snapshot[0].state_change.state.id == flow.state.id
    assert snapshot[0].state_change.flow_run_id == flow.id
    assert {_change(m) for m in snapshot[1:]} == {(TASK, task_a.id, PENDING), (TASK, task_b.id, PENDING)}
    assert all(m.state_change.flow_run_id == flow.id for m in snapshot)

    # Live changes, in the order they were decided.
    flow_running = accepted(stub, FLOW, flow.id, state(RUNNING))
    a_running = accepted(stub, TASK, task_a.id, state(RUNNING))
    stub.WriteLogs(
        pb.WriteLogsRequest(
            logs=[
                pb.LogEntry(
                    flow_run_id=flow.id,
                    task_run_id=task_a.id,
                    logger_name="cadenza.task",
                    level=20,
                    message="hello from a",
                )
            ]
        )
    )
    a_done = accepted(stub, TASK, task_a.id, state(COMPLETED))
    task_c = new_task(stub, flow.id, "c")  # a task run created while watching shows up too
    flow_done = accepted(stub, FLOW, flow.id, state(COMPLETED))

    live = watch.take(6)
    assert not any(m.snapshot for m in live)
    assert _change(live[0]) == (FLOW, flow.id, RUNNING)
    assert live[0].state_change.state.id == flow_running.id
    assert _change(live[1]) == (TASK, task_a.id, RUNNING)
    assert live[1].state_change.state.id == a_running.id
    assert live[2].WhichOneof("event") == "log"
    assert live[2].log.message == "hello from a" and live[2].log.task_run_id == task_a.id
    assert live[3].state_change.state.id == a_done.id
    assert _change(live[4]) == (TASK, task_c.id, PENDING)
    assert _change(live[5]) == (FLOW, flow.id, COMPLETED)
    assert live[5].state_change.state.id == flow_done.id
    assert [m.terminal for m in live] == [False] * 5 + [True]

    sequences = [m.sequence for m in snapshot + live]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    assert watch.ended()


def test_watch_of_a_final_run_sends_its_snapshot_and_ends(stub):
    flow = running_flow(stub)
    task = new_task(stub, flow.id, next_state=state(RUNNING))
    accepted(stub, TASK, task.id, state(COMPLETED))
    done = accepted(stub, FLOW, flow.id, state(COMPLETED))

    watch = Watch(stub, flow.id)
    first, second = watch.take(2)
    assert first.snapshot and _change(first) == (FLOW, flow.id, COMPLETED)
    assert first.state_change.state.id == done.id
    assert second.snapshot and _change(second) == (TASK, task.id, COMPLETED)
    last = watch.next()
    assert last.terminal
    assert watch.ended()


def test_watch_excluding_task_runs(stub):
    flow = running_flow(stub)
    task = new_task(stub, flow.id)
    watch = Watch(stub, flow.id, exclude_task_runs=True)
    (snap,) = watch.take(1)
    assert _change(snap) == (FLOW, flow.id, RUNNING)
    accepted(stub, TASK, task.id, state(RUNNING))
    accepted(stub, FLOW, flow.id, state(COMPLETED))
    last = watch.next()
    assert _change(last) == (FLOW, flow.id, COMPLETED) and last.terminal
    assert watch.ended()


def test_read_logs_pages_in_write_order(stub):
    flow = running_flow(stub)
    task = new_task(stub, flow.id)
    stub.WriteLogs(
        pb.WriteLogsRequest(
            logs=[
                pb.LogEntry(
                    flow_run_id=flow.id,
                    task_run_id=task.id if i % 2 else "",
                    level=20,
                    logger_name="t",
                    message=f"line {i}",
                )
                for i in range(7)
            ]
        )
    )
    messages, token, pages = [], "", 0
    while True:
        page = stub.ReadLogs(pb.ReadLogsRequest(flow_run_id=flow.id, page_size=3, page_token=token))
        assert len(page.logs) <= 3
        messages += [log.message for log in page.logs]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert messages == [f"line {i}" for i in range(7)]
    assert pages == 3

    only_task = stub.ReadLogs(pb.ReadLogsRequest(flow_run_id=flow.id, task_run_id=task.id))
    assert [log.message for log in only_task.logs] == ["line 1", "line 3", "line 5"]
    assert not only_task.next_page_token
