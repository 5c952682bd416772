"""Fuzz every RPC of both services: `python -m benchmarks.fuzz` (what `make fuzz` does).

    python -m benchmarks.fuzz                       # 200 random requests per RPC, plus raw bodies
    python -m benchmarks.fuzz --calls 20 --seed 7   # fewer, another seed (the same seed, the same requests)

An orchestrator and an executor are started as processes on a fresh CADENZA_HOME. Before the
fuzzing, real runs (in several states, with task runs), a deployment, a limit and a sentinel
are made through the contract; the fuzzer gets the ids of all but the sentinel. Afterwards both
services must still be running and SERVING, the sentinel must read back byte for byte as
before, and a new run must still go through. Prints a table of the status codes per RPC, writes
benchmarks/results/fuzz.json, and exits 1 if any answer was INTERNAL or UNKNOWN (each printed
with its request) or a check failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from cadenza.v1 import executor_pb2_grpc as epb_grpc
from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from cadenza.v1 import states_pb2 as spb

from .harness.catalog import RESULTS, ROOT
from .robustness.flows import ALLOWED
from .robustness.fuzzing import Tally, fuzz, render_table
from .robustness.services import (
    EXECUTOR_SERVICE,
    ORCHESTRATOR_SERVICE,
    ServiceProcess,
    serving,
    start_executor,
    start_orchestrator,
)
from .robustness.world import build_targets, make_sentinel, read_sentinel

SHOWN_REQUEST_CHARS = 4000


@dataclass
class Session:
    """One fuzzing session's figures and the checks made after it."""

    tally: Tally
    seconds: float
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.tally.offenders) or not all(ok for _, ok, _ in self.checks)


def _after_checks(orch: ServiceProcess, ex: ServiceProcess, sentinel, before: dict[str, bytes]) -> list:
    checks = []
    for service, name in ((orch, ORCHESTRATOR_SERVICE), (ex, EXECUTOR_SERVICE)):
        checks.append((f"{service.name} process still running", service.alive(), f"pid {service.pid}"))
        checks.append((f"{service.name} health SERVING", serving(service.address, name), service.address))
    with grpc.insecure_channel(orch.address) as och, grpc.insecure_channel(ex.address) as ech:
        stub = pb_grpc.OrchestratorStub(och)
        try:
            after = read_sentinel(stub, sentinel)
            changed = [what for what in before if before[what] != after[what]]
            checks.append(("sentinel reads back unchanged", not changed, ", ".join(changed) or "all equal"))
            run = stub.CreateFlowRun(pb.CreateFlowRunRequest(flow_name="after-fuzz"), timeout=10).flow_run
            answer = stub.ProposeState(
                pb.ProposeStateRequest(
                    run_kind=pb.RUN_KIND_FLOW, run_id=run.id, state=spb.State(type=spb.STATE_TYPE_RUNNING)
                ),
                timeout=10,
            )
            accepted = answer.status == pb.PROPOSAL_STATUS_ACCEPT
            checks.append(("a new run is created and accepted Running", accepted, run.id))
            listed = epb_grpc.ExecutorStub(ech).ListFlowRuns(pb.ListFlowRunsRequest(page_size=1), timeout=10)
            checks.append(("executor lists flow runs", True, f"{len(listed.flow_runs)} on the first page"))
        except grpc.RpcError as exc:
            checks.append(("services answer after the fuzzing", False, f"{exc.code().name}: {exc.details()}"))
    return checks


def run_session(home: Path, calls: int, raw: int | None, seed: int, workers: int) -> Session:
    """Start both services in `home`, fuzz them, check them; stop them."""
    orch = start_orchestrator(home, home / "o.db")
    ex = None
    try:
        ex = start_executor(
            home,
            orch.address,
            CADENZA_ALLOWED_ENTRYPOINTS=ALLOWED,
            CADENZA_EXECUTOR_MAX_RUNS="2",  # runs the fuzzer creates are claimed too: few at a time
        )
        with grpc.insecure_channel(orch.address) as channel:
            stub = pb_grpc.OrchestratorStub(channel)
            sentinel = make_sentinel(stub)
            before = read_sentinel(stub, sentinel)
        ids = build_targets(orch.address, ex.address)
        started = time.perf_counter()
        addresses = {ORCHESTRATOR_SERVICE: orch.address, EXECUTOR_SERVICE: ex.address}
        raw_count = raw if raw is not None else max(12, calls // 10)
        tally = fuzz(addresses, ids, seed, calls, raw_count, workers)
        session = Session(tally, time.perf_counter() - started)
        session.checks = _after_checks(orch, ex, sentinel, before)
        return session
    finally:
        if ex is not None:
            ex.stop()
        orch.stop()


def render(session: Session) -> str:
    tally = session.tally
    lines = [render_table(tally), ""]
    lines.append(f"{tally.calls()} calls over {len(tally.codes)} RPCs in {session.seconds:.1f} s")
    for what, ok, detail in session.checks:
        lines.append(f"  [{'ok' if ok else 'FAILED'}] {what} ({detail})")
    if tally.undelivered:
        lines.append(
            f"\n{len(tally.undelivered)} refusals too big to deliver (the status message echoed a long "
            "value; the client saw RESOURCE_EXHAUSTED instead of the code meant):"
        )
        by_rpc = Counter(u["rpc"] for u in tally.undelivered)
        lines.extend(f"  {rpc}: {n}" for rpc, n in by_rpc.most_common())
    if tally.offenders:
        lines.append(f"\n{len(tally.offenders)} INTERNAL/UNKNOWN answers:")
    for offender in tally.offenders:
        request = offender["request"]
        if len(request) > SHOWN_REQUEST_CHARS:
            request = (
                request[:SHOWN_REQUEST_CHARS] + f"\n... ({len(request)} characters in all; whole in the JSON)"
            )
        lines.append(
            f"\n{offender['rpc']} -> {'/'.join(offender['codes'])}: {offender['details']}\n{request}"
        )
    return "\n".join(lines)


def document(session: Session, args: argparse.Namespace) -> dict[str, Any]:
    tally = session.tally
    return {
        "kind": "fuzz",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["python -m benchmarks.fuzz", *sys.argv[1:]]),
        "seed": args.seed,
        "calls_per_rpc": args.calls,
        "took_s": session.seconds,
        "calls": tally.calls(),
        "codes": {rpc: dict(codes) for rpc, codes in tally.codes.items()},
        "in_stream_codes": {rpc: dict(codes) for rpc, codes in tally.embedded.items()},
        "slowest_ms": {rpc: round(s * 1000, 1) for rpc, s in tally.slowest.items()},
        "sample_details": tally.samples,
        "checks": [{"check": what, "ok": ok, "detail": detail} for what, ok, detail in session.checks],
        "offenders": tally.offenders,
        "undelivered_refusals": tally.undelivered,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="random requests per RPC (default 200)")
    parser.add_argument(
        "--raw", type=int, default=None, help="raw bodies per RPC (default max(12, calls/10))"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=8, help="calls in flight at once")
    parser.add_argument("--out", default=str(RESULTS / "fuzz.json"))
    parser.add_argument("--keep", action="store_true", help="keep the services' home (logs, database)")
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="cadenza-fuzz-"))
    session = run_session(home, args.calls, args.raw, args.seed, args.workers)
    print(render(session))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document(session, args), indent=2) + "\n")
    print(f"\nResults: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    if session.failed or args.keep:
        print(f"services' logs and database kept under {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)
    return 1 if session.failed else 0


if __name__ == "__main__":
    sys.exit(main())
