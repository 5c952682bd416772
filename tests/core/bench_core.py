"""Per-proposal cost of the decision core (not collected by pytest).

    .venv/bin/python -m tests.core.bench_core

Times `decide` (with the gathering of its inputs) for PENDING -> RUNNING -> COMPLETED on fresh task runs (the hot path
of every task), with and without a tag concurrency limit, and the machine check alone
(fired through `events[...].trigger`, and as the remembered verdict the core uses).
"""

from __future__ import annotations

import time

from orchestrator.core import machines
from orchestrator.core.models import Proposal, State, StateType
from orchestrator.core.policy import decide

from .conftest import FakeContext, flow_in, task_in

ST = StateType


def per_proposal_us(ctx: FakeContext, tags: list[str], n: int) -> dict[str, float]:
    flow = flow_in(ctx, ST.RUNNING)
    runs = [task_in(ctx, None, flow=flow, tags=tags) for _ in range(n)]
    totals = {}
    for target in (ST.PENDING, ST.RUNNING, ST.COMPLETED):
        proposals = [Proposal(State(target)) for _ in range(n)]
        start = time.perf_counter()
        for run, proposal in zip(runs, proposals):
            decide("task", run, proposal, ctx.inputs_for("task", run, proposal), ctx.settings)
        totals[target.value] = (time.perf_counter() - start) / n * 1e6
    assert all(run.state.type is ST.COMPLETED for run in runs)
    return totals


def machine_check_us(n: int, cached: bool) -> float:
    check = machines.allows if cached else machines.fire
    start = time.perf_counter()
    for _ in range(n):
        check(machines.TASK_RUN_MACHINE, ST.PENDING, ST.RUNNING)
    return (time.perf_counter() - start) / n * 1e6


def main(n: int = 20000, repeats: int = 5) -> None:
    for label, tags in (("no tags", []), ("one limited tag", ["db"])):
        ctx = FakeContext()
        ctx.add_limit("db", n)  # never full: measures the taking and giving back
        per_proposal_us(ctx, tags, 2000)  # warm up
        rounds = [per_proposal_us(ctx, tags, n) for _ in range(repeats)]
        best = {k: min(r[k] for r in rounds) for k in rounds[0]}
        cells = "  ".join(f"{k}={v:5.1f}" for k, v in best.items())
        print(
            f"{label:16} best of {repeats}, us/proposal: {cells}  mean={sum(best.values()) / len(best):5.1f}"
        )
    fired = min(machine_check_us(n, cached=False) for _ in range(repeats))
    remembered = min(machine_check_us(n, cached=True) for _ in range(repeats))
    print(f"machine check: fired {fired:5.1f} us, remembered verdict {remembered:5.2f} us")


if __name__ == "__main__":
    main()
