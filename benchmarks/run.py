"""Run the benchmark: `python -m benchmarks.run` (what `make bench` does).

    python -m benchmarks.run                      # floor, W1-W4 on Cadenza (service + embedded), scale 1k/10k
    python -m benchmarks.run --scale-only --scale 1000,10000,100000     # make bench-scale
    python -m benchmarks.run --peer --scale ''    # make bench-peer: Cadenza vs Prefect 2.20 vs 3.9
    python -m benchmarks.run --baseline d1f37ce   # also Cadenza at d1f37ce: a before/after table
    python -m benchmarks.run --no-postgres        # without W1/W2 on PostgreSQL vs SQLite (run when installed)

Every workload run is its own process (benchmarks/workloads.py), started fresh with a fresh
database; repetitions are interleaved (rep 1 of every engine and workload, then rep 2, ...) so
that a noisy stretch of the machine hits them all alike; figures are medians of the repetitions.
The harness behind it lives in benchmarks/harness/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness.baseline import prepare as prepare_baseline
from .harness.catalog import DEFAULT_N, RESULTS, ROOT, UNITS
from .harness.engines import Engine, baseline_engines, cadenza_engines, prefect_engines
from .harness.report import render
from .harness.summary import summarise
from .harness.workload_run import measure_floor, run_workload
from .postgres_compare import available as postgres_available
from .postgres_compare import compare as compare_postgres
from .postgres_compare import render as render_postgres


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", "3")))
    parser.add_argument("--workloads", default="W1,W2,W3,W4")
    parser.add_argument("--modes", default="service,embedded", help="Cadenza modes: service, embedded")
    parser.add_argument("--scale", default="1000,10000", help="W1/W2 sizes for the scale runs ('' for none)")
    parser.add_argument("--scale-only", action="store_true", help="only the floor and the scale runs")
    parser.add_argument("--peer", action="store_true", help="also run Prefect 2.20 and 3.9 from .bench/")
    parser.add_argument(
        "--peers", default="", help="also run these of prefect2,prefect3 from .bench/ (make bench: prefect3)"
    )
    parser.add_argument(
        "--peer-workloads", default="", help="the workloads the peers run ('' for all of --workloads)"
    )
    parser.add_argument(
        "--baseline",
        metavar="REF",
        default="",
        help="also run W1-W4 on Cadenza at this git ref (worktree under .bench/), with a before/after table ('' for none)",
    )
    parser.add_argument(
        "--postgres",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="W1/W2 with the orchestrator on a throwaway PostgreSQL vs on SQLite (default: when installed)",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per workload process")
    parser.add_argument("--out", default=None, help="JSON file (default benchmarks/results/<kind>.json)")
    parser.add_argument("--show", metavar="FILE", help="print the tables of a results file and exit")
    return parser.parse_args(argv)


def git_commit() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except OSError:
        return ""


def _status(r: dict[str, Any], unit: str) -> str:
    return "ERROR " + r["error"].splitlines()[0] if "error" in r else f"{r['per_unit_ms']:.3f} ms/{unit}"


def repetition_order(engines: list[Engine], rep: int) -> list[Engine]:
    """The engines in the order of repetition `rep` (0-based). Each baseline engine follows the
    current engine of its mode; on odd repetitions it goes first, so neither side always gets
    the machine as the other left it."""
    order = list(engines)
    if rep % 2:
        for i in range(len(order) - 1):
            a, b = order[i], order[i + 1]
            if a.cadenza and not a.baseline and b.baseline and a.mode == b.mode:
                order[i], order[i + 1] = b, a
    return order


def run_repetitions(
    engines: list[Engine],
    workloads: list[str],
    repeat: int,
    scratch: Path,
    timeout: float,
    peer_workloads: set[str],
) -> list[dict[str, Any]]:
    """Repetition 1 of every workload on every engine, then repetition 2, ...: a noisy stretch
    of the machine hits every engine alike."""
    runs: list[dict[str, Any]] = []
    for rep in range(repeat):
        for w in workloads:
            for engine in repetition_order(engines, rep):
                if engine.peer and w not in peer_workloads:
                    continue
                r = run_workload(engine, w, DEFAULT_N[w], scratch, timeout)
                r["repetition"] = rep + 1
                runs.append(r)
                print(
                    f"  rep {rep + 1}/{repeat} {w} {engine.label}: {_status(r, UNITS[w])} (wall {r.get('wall_s', 0):.1f} s)",
                    flush=True,
                )
    return runs


def run_scale(sizes: list[int], scratch: Path, timeout: float) -> list[dict[str, Any]]:
    """W1 and W2 at each size, Cadenza against its service, one run each."""
    scale_runs: list[dict[str, Any]] = []
    service = cadenza_engines()[0]
    for w in ("W1", "W2"):
        for n in sizes:
            r = run_workload(service, w, n, scratch, timeout)
            scale_runs.append(r)
            print(f"  scale {w} n={n:,}: {_status(r, 'task')} (wall {r.get('wall_s', 0):.1f} s)", flush=True)
    return scale_runs


def summaries(
    engines: list[Engine], workloads: list[str], runs: list[dict[str, Any]], two_floors_ms: float
) -> dict[str, dict[str, dict[str, Any]]]:
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for engine in engines:
        for w in workloads:
            mine = [r for r in runs if r["engine"] == engine.key and r["workload"] == w]
            if mine:
                summary.setdefault(engine.key, {})[w] = dict(summarise(mine, two_floors_ms), n=DEFAULT_N[w])
    return summary


def scale_entries(
    scale_runs: list[dict[str, Any]], two_floors_ms: float
) -> dict[str, dict[str, dict[str, Any]]]:
    scale: dict[str, dict[str, dict[str, Any]]] = {}
    for r in scale_runs:
        entry = dict(r)
        if "per_unit_ms" in entry:
            entry["floor_multiple"] = entry["per_unit_ms"] / two_floors_ms
        scale.setdefault(r["workload"], {})[str(r["n"])] = entry
    return scale


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.show:
        shown = json.loads(Path(args.show).read_text())
        print(render(shown) + (f"\n\n{render_postgres(shown['postgres'])}" if shown.get("postgres") else ""))
        return 0

    workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    sizes = [int(s) for s in args.scale.split(",") if s.strip()]
    modes = args.modes.split(",")
    engines = [e for e in cadenza_engines() if e.mode in modes]
    baseline = None
    if args.baseline and not args.scale_only:  # the scale runs are never repeated at the baseline
        baseline = prepare_baseline(args.baseline)
        print(f"baseline: {args.baseline} = {baseline.commit[:12]} in {baseline.root}", flush=True)
        olds = {e.mode: e for e in baseline_engines(baseline)}
        engines = [e for now in engines for e in (now, olds[now.mode])]
    peers = ["prefect2", "prefect3"] if args.peer else [p for p in args.peers.split(",") if p.strip()]
    if peers:
        engines += prefect_engines(peers)
    peer_workloads = {w.strip().upper() for w in args.peer_workloads.split(",") if w.strip()} or set(
        workloads
    )
    kind = "peer" if args.peer else ("scale" if args.scale_only else "latest")
    out_path = Path(args.out) if args.out else RESULTS / f"{kind}.json"
    scratch = Path(tempfile.mkdtemp(prefix="cadenza-bench-"))
    began = time.perf_counter()
    print(f"scratch: {scratch}", flush=True)

    floors = [measure_floor(scratch)]
    print(
        f"floor: unary {floors[0]['unary']['median_us']:.0f} µs, stream {floors[0]['stream']['median_us']:.0f} µs",
        flush=True,
    )
    runs = (
        []
        if args.scale_only
        else run_repetitions(engines, workloads, args.repeat, scratch, args.timeout, peer_workloads)
    )
    scale_runs = run_scale(sizes, scratch, args.timeout)
    on_postgres = args.postgres if args.postgres is not None else not (args.scale_only or args.peer)
    postgres = None
    if on_postgres and postgres_available():
        print("PostgreSQL vs SQLite (W1, W2; service mode):", flush=True)
        postgres = compare_postgres(args.repeat, scratch, args.timeout)
    elif args.postgres:
        raise SystemExit("--postgres: PostgreSQL is not installed (apt-get install postgresql-15)")
    floors.append(measure_floor(scratch))
    two_floors_ms = 2 * statistics.fmean(f["stream"]["median_us"] for f in floors) / 1000.0

    failures = [r for r in runs + scale_runs + (postgres["runs"] if postgres else []) if "error" in r]
    document = {
        "kind": kind,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "took_s": time.perf_counter() - began,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_end": os.getloadavg(),
        },
        "commit": git_commit(),
        "repetitions": args.repeat,
        "workloads": workloads if runs else [],
        "engines": {
            e.key: {
                "label": e.label,
                "python": str(e.python),
                "version": e.version,
                "peer": e.peer,
                "code": str(e.code) if e.code else None,
            }
            for e in engines
        },
        "baseline": baseline
        and {
            "ref": baseline.ref,
            "commit": baseline.commit,
            "short": baseline.short,
            "root": str(baseline.root),
            "imports": baseline.imports,
        },
        "floor": {"runs": floors, "two_stream_floors_ms": two_floors_ms},
        "summary": summaries(engines, workloads, runs, two_floors_ms),
        "scale": scale_entries(scale_runs, two_floors_ms),
        "postgres": postgres,
        "runs": runs,
        "failures": [
            {k: r.get(k) for k in ("engine", "store", "workload", "n", "error", "workdir")} for r in failures
        ],
    }
    shown = out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path
    on_pg = f"\n\n{render_postgres(postgres)}\n" if postgres else ""
    print("\n\n" + render(document) + on_pg + f"\nResults: {shown}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(document, indent=2) + "\n")
    if failures:
        print(f"(failed runs' logs kept under {scratch})")
        return 1
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
