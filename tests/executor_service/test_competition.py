"""Competition and limits: two executors share 20 scheduled runs, each run executing exactly
once; one executor never runs more flow runs at once than CADENZA_EXECUTOR_MAX_RUNS."""

from __future__ import annotations

from collections import Counter

from cadenza.v1 import orchestrator_pb2 as pb

from ._harness import (
    COMPLETED,
    FINAL,
    PENDING,
    RUNNING,
    SCHEDULED,
    Cluster,
    deploy,
    history,
    module_entrypoint,
    read,
    submit,
    utcnow,
    wait_final,
    wait_for,
)

RUNS = 20


def test_two_executors_run_each_of_20_scheduled_runs_exactly_once(tmp_path):
    own = Cluster.start(tmp_path / "cluster", executors=2, CADENZA_EXECUTOR_MAX_RUNS="4")
    try:
        orch = own.orch()
        ledger = tmp_path / "ledger"
        dep = deploy(orch, "append_run_id", params={"path": str(ledger)})
        when = utcnow()
        run_ids = []
        for i in range(RUNS):
            request = pb.CreateFlowRunFromDeploymentRequest(name=dep.name, idempotency_key=f"race-{i}")
            request.scheduled_time.FromDatetime(when)
            run_ids.append(orch.CreateFlowRunFromDeployment(request).flow_run.id)
        assert len(set(run_ids)) == RUNS

        def all_final():
            runs = [read(orch, run_id) for run_id in run_ids]
            return runs if all(r.state.type in FINAL for r in runs) else None

        runs = wait_for(all_final, 40, "all 20 runs to finish", own, interval=0.2)
        assert [r.state.type for r in runs] == [COMPLETED] * RUNS, own.logs()
        assert all(r.run_count == 1 for r in runs), [r.run_count for r in runs]

        for run_id in run_ids:  # created Scheduled (maybe marked Late), claimed once, run once
            types = [state.type for state in history(orch, run_id)]
            while types[:2] == [SCHEDULED, SCHEDULED]:
                types.pop(0)
            assert types == [SCHEDULED, PENDING, RUNNING, COMPLETED], (run_id, types)

        lines = ledger.read_text().splitlines()
        assert Counter(lines) == Counter(run_ids), own.logs()  # every run once, nothing else
        workers = Counter(r.worker_id for r in runs)
        assert len(workers) == 2 and "" not in workers, workers  # both executors took part
    finally:
        own.stop()


def test_an_executor_runs_at_most_its_limit_of_flow_runs_at_once(tmp_path):
    own = Cluster.start(tmp_path / "cluster", CADENZA_EXECUTOR_MAX_RUNS="1")
    try:
        orch, ex = own.orch(), own.ex()
        ledger = tmp_path / "ledger"
        run_ids = [
            submit(ex, entrypoint=module_entrypoint("timed_section"), params={"path": str(ledger)})
            for _ in range(3)
        ]
        for run_id in run_ids:
            assert wait_final(own, orch, run_id, timeout=10).state.type == COMPLETED, own.logs()
        spans: dict[str, list[float]] = {}
        for line in ledger.read_text().splitlines():
            run_id, _, at = line.split()
            spans.setdefault(run_id, []).append(float(at))
        intervals = sorted(spans.values())
        assert len(intervals) == 3 and all(len(span) == 2 for span in intervals), spans
        for (_, end), (start, _) in zip(intervals, intervals[1:]):
            assert end <= start, intervals  # one after the other
    finally:
        own.stop()
