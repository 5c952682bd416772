"""WatchFlowRun through the executor: live states of the run, its task runs and its subflow,
log lines from a task, progress counts, and the end; and the history of a finished run."""

from __future__ import annotations

from cadenza.v1 import orchestrator_pb2 as pb

from ._harness import COMPLETED, FINAL, PENDING, RUNNING, deploy, module_entrypoint, submit, tname, wait_final

WATCH_TIMEOUT = 15.0


def watch(ex, flow_run_id: str) -> list:
    return list(ex.WatchFlowRun(pb.WatchFlowRunRequest(flow_run_id=flow_run_id), timeout=WATCH_TIMEOUT))


def test_watch_streams_states_tasks_subflow_logs_and_progress(cluster, orch, ex):
    dep = deploy(orch, "parent_flow")
    run_id = submit(ex, deployment=dep.name, params={"n": 5})
    events = watch(ex, run_id)
    explain = "\n".join(str(e).replace("\n", " ") for e in events) + "\n" + cluster.logs()

    # The stream ends once, with terminal=True on the last message only.
    assert events and events[-1].terminal, explain
    assert not any(e.terminal for e in events[:-1]), explain
    sequences = [e.sequence for e in events]
    assert sequences == sorted(set(sequences)), explain

    changes = [e.state_change for e in events if e.HasField("state_change")]
    flow_states = [
        tname(c.state.type) for c in changes if c.run_kind == pb.RUN_KIND_FLOW and c.run_id == run_id
    ]
    assert flow_states[-1] == "COMPLETED", explain
    assert "RUNNING" in flow_states, explain

    for run in {c.run_id for c in changes}:  # no run is shown going back to a state it left
        ids = [c.state.id for c in changes if c.run_id == run]
        assert len(ids) == len(set(ids)), explain

    subflows = {c.run_id for c in changes if c.run_kind == pb.RUN_KIND_FLOW and c.run_id != run_id}
    assert len(subflows) == 1, explain
    (subflow,) = subflows
    subflow_states = [c.state.type for c in changes if c.run_id == subflow]
    assert subflow_states[-1] == COMPLETED, explain

    tasks = {c.run_id: c for c in changes if c.run_kind == pb.RUN_KIND_TASK}
    chatty = [c for c in tasks.values() if c.run_name.startswith("chatty")]
    assert {c.flow_run_id for c in chatty} == {run_id, subflow}, (
        explain
    )  # one in the parent, one in the subflow
    for task_id in tasks:
        seen = [c.state.type for c in changes if c.run_id == task_id]
        assert seen[-1] == COMPLETED, explain
    parent_chatty = next(c.run_id for c in chatty if c.flow_run_id == run_id)
    lifecycle = [
        c.state.type
        for c in changes
        if c.run_id == parent_chatty and c.state.type in (PENDING, RUNNING, COMPLETED)
    ]
    assert lifecycle == [PENDING, RUNNING, COMPLETED], explain

    logs = [e.log for e in events if e.HasField("log")]
    assert any(log.message == "chatty task got 5" and log.task_run_id == parent_chatty for log in logs), (
        explain
    )

    # Progress: task runs seen so far, and how many of them are final; never more done than seen.
    assert all(0 <= e.task_runs_done <= e.task_runs_total for e in events), explain
    assert any(e.task_runs_done < e.task_runs_total for e in events), explain
    last = events[-1]
    assert last.task_runs_total == last.task_runs_done == 2, (
        explain
    )  # the two chatty runs (not the subflow's tracker)


def test_watch_of_a_finished_run_returns_its_history_and_ends(cluster, orch, ex):
    dep = deploy(orch, "arithmetic", params={"x": 3})
    run_id = submit(ex, deployment=dep.name)
    assert wait_final(cluster, orch, run_id).state.type == COMPLETED, cluster.logs()

    events = watch(ex, run_id)
    explain = "\n".join(str(e).replace("\n", " ") for e in events)
    assert events and all(e.snapshot for e in events), explain
    assert events[-1].terminal and not any(e.terminal for e in events[:-1]), explain
    flow_states = [
        tname(e.state_change.state.type)
        for e in events
        if e.HasField("state_change") and e.state_change.run_kind == pb.RUN_KIND_FLOW
    ]
    assert flow_states == ["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"], explain
    task_states = [
        e.state_change
        for e in events
        if e.HasField("state_change") and e.state_change.run_kind == pb.RUN_KIND_TASK
    ]
    assert [t.run_name for t in task_states] == ["double-0"], explain
    assert task_states[0].state.type in FINAL
    assert (events[-1].task_runs_total, events[-1].task_runs_done) == (1, 1), explain


def test_watch_streams_a_task_log_line_of_a_short_flow(cluster, orch, ex):
    run_id = submit(ex, entrypoint=module_entrypoint("one_chatty_task"), params={"n": 9})
    events = watch(ex, run_id)
    assert events[-1].terminal
    assert "chatty task got 9" in [e.log.message for e in events if e.HasField("log")]


def test_exclude_task_runs_leaves_task_run_states_out_live_and_replayed(cluster, orch, ex):
    dep = deploy(orch, "parent_flow")
    run_id = submit(ex, deployment=dep.name, params={"n": 4})
    request = pb.WatchFlowRunRequest(flow_run_id=run_id, exclude_task_runs=True)
    live = list(ex.WatchFlowRun(request, timeout=WATCH_TIMEOUT))
    assert wait_final(cluster, orch, run_id).state.type == COMPLETED, cluster.logs()
    replayed = list(ex.WatchFlowRun(request, timeout=WATCH_TIMEOUT))

    for events in (live, replayed):
        explain = "\n".join(str(e).replace("\n", " ") for e in events)
        changes = [e.state_change for e in events if e.HasField("state_change")]
        assert not [c for c in changes if c.run_kind == pb.RUN_KIND_TASK], explain
        assert [c.state.type for c in changes if c.run_id == run_id][-1] == COMPLETED, explain
        assert "chatty task got 4" in [e.log.message for e in events if e.HasField("log")], explain
        assert events[-1].terminal and not any(e.terminal for e in events[:-1]), explain
        # The task runs are still counted, though not shown.
        assert 0 < events[-1].task_runs_done == events[-1].task_runs_total, explain

    explain = "\n".join(str(e).replace("\n", " ") for e in live)
    # Live, the subflow is still followed (its tracker is a task run) and its task counted.
    subflows = {
        e.state_change.run_id for e in live if e.HasField("state_change") and e.state_change.run_id != run_id
    }
    assert len(subflows) == 1, explain
    assert (live[-1].task_runs_total, live[-1].task_runs_done) == (2, 2), explain
