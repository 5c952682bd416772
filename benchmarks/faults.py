"""Faults with real processes and real signals: `python -m benchmarks.faults` (`make faults`).

    python -m benchmarks.faults                         # 10 SIGKILLs; 3 crashes of each kind, lease 2 s
    python -m benchmarks.faults --kills 50 --clients 8  # more kills, more load
    python -m benchmarks.faults --lease-seconds 10      # the executor's default lease
    python -m benchmarks.faults --only kills            # or: --only crashes

Two figures: the accepted states lost after N SIGKILLs of the orchestrator under load
(robustness/kills.py), and the time from a killed flow-run process or a killed executor to
a Crashed run (robustness/crashes.py), read against the lease. Prints a table of each,
writes benchmarks/results/faults.json, and exits 1 if a state was lost or misplaced, or a
run was not Crashed in time.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness.catalog import RESULTS, ROOT
from .robustness.crashes import POLL_SECONDS, TAKEOVER_GRACE_SECONDS, Scenario, measure_crashes
from .robustness.kills import KillReport, measure_kills


def render_kills(report: KillReport) -> str:
    restart = report.restart_seconds
    lines = [
        f"Orchestrator SIGKILLed {report.kills} times under {report.clients} clients "
        f"(half unary, half the ProposeStates stream):",
        f"  accepted states: {report.accepted}, lost: {report.lost} after {report.kills} SIGKILLs",
        f"  runs checked: {report.runs}; accepted out of order: {report.out_of_order}; "
        f"current state not the last accepted (or the one unanswered proposal): {report.wrong_current}",
        f"  proposals committed but unanswered when the server died: {report.committed_unanswered}",
        f"  accepted per life: {report.accepted_per_life}",
    ]
    if restart:
        lines.append(
            f"  SIGKILL to serving again: median {statistics.median(restart):.2f} s, max {max(restart):.2f} s"
        )
    for title, items in (
        ("lost", report.lost_examples),
        ("unexpected errors", report.unexpected_errors),
        ("not accepted", report.not_accepted),
    ):
        if items:
            lines.append(f"  {title}: " + "; ".join(items[:5]))
    return "\n".join(lines)


def render_crashes(scenarios: list[Scenario], lease_seconds: float) -> str:
    lines = [
        f"Time from SIGKILL to a Crashed run (lease {lease_seconds:g} s, takeover grace "
        f"{TAKEOVER_GRACE_SECONDS:g} s, polled every {POLL_SECONDS * 1000:.0f} ms):",
        f"  {'what':<28} {'runs':>4} {'crashed':>7} {'median s':>9} {'max s':>7}  note",
    ]
    for scenario in scenarios:
        s = scenario.summary()
        median = f"{s['median_s']:.2f}" if s["median_s"] is not None else "-"
        most = f"{s['max_s']:.2f}" if s["max_s"] is not None else "-"
        orphan = s["orphan_stopped_median_s"]
        note = f"orphaned flow-run process stopped itself after {orphan:.2f} s (median)" if orphan else ""
        lines.append(
            f"  {scenario.what:<28} {s['runs']:>4} {s['crashed']:>7} {median:>9} {most:>7}  {note}".rstrip()
        )
        for timing in scenario.timings:
            if timing.seconds is None:
                lines.append(f"    not Crashed in time: {timing.final_state} {timing.message!r}")
    return "\n".join(lines)


def crashes_within(scenarios: list[Scenario], seconds: float) -> bool:
    return all(s.ok and max(s.measured()) <= seconds for s in scenarios)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faults", description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs of the orchestrator (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="client coroutines proposing (default 4)")
    parser.add_argument("--repeat", type=int, default=3, help="crashes of each kind (default 3)")
    parser.add_argument("--lease-seconds", type=float, default=2.0, help="CADENZA_LEASE_SECONDS (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="when the SIGKILLs come")
    parser.add_argument("--only", choices=["kills", "crashes"])
    parser.add_argument("--out", default=str(RESULTS / "faults.json"))
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="cadenza-faults-"))
    document: dict[str, Any] = {
        "kind": "faults",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["python -m benchmarks.faults", *sys.argv[1:]]),
    }
    failed = False
    if args.only != "crashes":
        report = asyncio.run(measure_kills(home / "kills", args.kills, args.clients, args.seed))
        print(render_kills(report), flush=True)
        document["kills"] = dataclasses.asdict(report)
        failed |= not report.ok
    if args.only != "kills":
        scenarios = measure_crashes(home / "crashes", args.repeat, args.lease_seconds)
        print(("\n" if args.only is None else "") + render_crashes(scenarios, args.lease_seconds))
        document["crashes"] = {
            "lease_seconds": args.lease_seconds,
            "takeover_grace_seconds": TAKEOVER_GRACE_SECONDS,
            "poll_seconds": POLL_SECONDS,
            "scenarios": {
                s.what: {**s.summary(), "runs_detail": [dataclasses.asdict(t) for t in s.timings]}
                for s in scenarios
            },
        }
        failed |= not crashes_within(scenarios, 3 * args.lease_seconds + TAKEOVER_GRACE_SECONDS)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nResults: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    if failed:
        print(f"services' logs and databases kept under {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
