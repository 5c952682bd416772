"""Two executors on one orchestrator compete for 20 scheduled runs: each runs exactly once."""

from __future__ import annotations

from collections import Counter

from cadenza.v1 import orchestrator_pb2 as pb

from ._harness import COMPLETED, FINAL, PENDING, RUNNING, SCHEDULED, Cluster, deploy, history, read, utcnow, wait_for

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
