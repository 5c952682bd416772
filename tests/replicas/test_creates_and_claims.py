"""Creating and claiming through two replicas at once: one idempotency key makes one run
whichever replicas it is sent through, and a due run is claimed through any replica, by one
worker only."""

from __future__ import annotations

import threading
import time

from cadenza.v1 import orchestrator_pb2 as pb
from tests.service._helpers import (
    FLOW,
    PENDING,
    RUNNING,
    SCHEDULED,
    TIMEOUT,
    accepted,
    all_flow_runs,
    all_task_runs,
    history,
    new_flow,
    read_flow,
    state,
    uid,
)

from ._helpers import at_once, deployment, scheduled_run

ROUNDS = 10
LEASE = 300.0  # longer than the package's tests: nothing here is left to lapse


def _create_flow_run(stub, **kw) -> pb.CreateFlowRunResponse:
    return stub.CreateFlowRun(pb.CreateFlowRunRequest(**kw), timeout=TIMEOUT)


def _create_task_run(stub, **kw) -> pb.CreateTaskRunResponse:
    return stub.CreateTaskRun(pb.CreateTaskRunRequest(**kw), timeout=TIMEOUT)


def test_one_idempotency_key_sent_through_both_replicas_at_once_makes_one_flow_run(pair):
    name = f"idem-{uid()}"
    made = []
    for _ in range(ROUNDS):
        answers = at_once(pair, _create_flow_run, flow_name=name, idempotency_key=uid())
        assert len({x.flow_run.id for x in answers}) == 1, "each replica created its own run"
        assert sorted(x.created for x in answers) == [False, True]
        made.append(answers[0].flow_run.id)
    for replica in pair:
        assert sorted(r.id for r in all_flow_runs(replica.stub, flow_name=name)) == sorted(made)


def test_one_task_key_sent_through_both_replicas_at_once_makes_one_task_run(pair):
    flow = new_flow(pair[0].stub, flow_name="task-keys")
    accepted(pair[1].stub, FLOW, flow.id, state(RUNNING))
    made = []
    for i in range(ROUNDS):
        answers = at_once(pair, _create_task_run, flow_run_id=flow.id, task_key="t", dynamic_key=str(i))
        assert len({x.task_run.id for x in answers}) == 1, "each replica created its own task run"
        assert sorted(x.created for x in answers) == [False, True]
        made.append(answers[0].task_run.id)
    for replica in pair:
        rows = all_task_runs(replica.stub, flow_run_id=flow.id)
        assert sorted(t.id for t in rows) == sorted(made)
        assert sorted(t.dynamic_key for t in rows) == sorted(str(i) for i in range(ROUNDS))


def _claim(stub, worker: str, limit: int = 100, wait: float = 0.0) -> list[pb.FlowRun]:
    req = pb.ClaimFlowRunsRequest(worker_id=worker, limit=limit, lease_seconds=LEASE, wait_seconds=wait)
    return list(stub.ClaimFlowRuns(req, timeout=wait + TIMEOUT).flow_runs)


def test_a_run_scheduled_through_one_replica_is_claimed_through_the_other(pair):
    a, b = pair
    run = scheduled_run(a.stub, deployment(a.stub))
    claimed = {r.id: r for r in _claim(b.stub, "worker-b", wait=2.0)}
    assert run.id in claimed
    assert claimed[run.id].worker_id == "worker-b" and claimed[run.id].state.type == PENDING
    seen = read_flow(a.stub, run.id)
    assert (seen.worker_id, seen.state.type, seen.lease_epoch) == ("worker-b", PENDING, 1)


def test_a_worker_waiting_on_one_replica_gets_a_run_scheduled_through_the_other(pair):
    a, b = pair
    dep = deployment(a.stub)
    got: list[pb.FlowRun] = []
    waiter = threading.Thread(target=lambda: got.extend(_claim(b.stub, "waiting-b", wait=10.0)))
    waiter.start()
    time.sleep(0.3)  # b is long-polling before the run exists
    run = scheduled_run(a.stub, dep)
    scheduled = time.monotonic()
    waiter.join(timeout=15)
    took = time.monotonic() - scheduled
    assert [r.id for r in got] == [run.id]
    assert took < 1.5, f"b handed the run over {took:.2f} s after a scheduled it"


def test_racing_claims_through_both_replicas_hand_each_run_to_one_worker(pair):
    a, _ = pair
    dep = deployment(a.stub)
    runs = {scheduled_run(a.stub, dep).id for _ in range(ROUNDS)}
    for replica in pair:  # both know every run before the race
        assert {read_flow(replica.stub, run_id).state.type for run_id in runs} == {SCHEDULED}
    owners: dict[str, list[str]] = {}

    def drain(stub, worker: str) -> None:
        while claimed := _claim(stub, worker, limit=2):
            for run in claimed:
                owners.setdefault(run.id, []).append(worker)

    # Worker names per replica: at_once passes only the stub.
    workers = {id(r.stub): f"worker-{r.name}" for r in pair}
    at_once(pair, lambda stub: drain(stub, workers[id(stub)]))
    assert set(owners) >= runs
    for run_id in runs:
        assert len(owners[run_id]) == 1, f"{run_id} claimed by {owners[run_id]}"
        for replica in pair:
            seen = read_flow(replica.stub, run_id)
            assert seen.worker_id == owners[run_id][0] and seen.lease_epoch == 1
            assert [s.type for s in history(replica.stub, FLOW, run_id)] == [SCHEDULED, PENDING]
