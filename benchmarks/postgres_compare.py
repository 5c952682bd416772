"""W1 and W2 against an orchestrator on PostgreSQL, next to the same on SQLite, in one run.

`benchmarks.run` calls `compare` when PostgreSQL is installed (`--no-postgres` skips it). The
bench starts a throwaway PostgreSQL server of its own (tests/pg.py) with fsync on, as a real one
runs; each workload run gets a fresh database on it, or a fresh SQLite file, and an
`orchestrator serve` process of its own. Repetitions alternate the two stores, so that a noisy
stretch of the machine hits both; figures are medians, ratios are PostgreSQL / SQLite.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .harness.catalog import DEFAULT_N, ROOT, WORKLOADS_SCRIPT
from .harness.engines import Engine, cadenza_engines, engine_env, workload_env
from .harness.processes import parse_result, run_process, tail

STORES = ("sqlite", "postgres")
WORKLOADS = ("W1", "W2")


def available() -> bool:
    from tests.pg import binaries

    return binaries() is not None


def _orchestrator(engine: Engine, database: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "orchestrator", "serve", "--port", "0", "--db", database]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=engine_env(engine), stdout=subprocess.PIPE, stderr=log, text=True
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "listening on" in line:
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, line.strip().rsplit(" ", 1)[-1]
    proc.kill()
    raise RuntimeError(f"the orchestrator did not start:\n{tail(log_path)}")


def _one_run(engine: Engine, workload: str, database: str, workdir: Path, timeout: float) -> dict[str, Any]:
    record: dict[str, Any] = {"workload": workload, "n": DEFAULT_N[workload]}
    try:
        orchestrator, address = _orchestrator(engine, database, workdir / "orchestrator.log")
    except RuntimeError as exc:
        return dict(record, error=str(exc))
    env = dict(workload_env(engine, workdir), CADENZA_ORCHESTRATOR=address)
    cmd = [str(engine.python), str(WORKLOADS_SCRIPT), workload, "--n", str(DEFAULT_N[workload])]
    try:
        proc = run_process(cmd, env, workdir, workdir / "workload.log", timeout)
    finally:
        orchestrator.terminate()
        orchestrator.wait(15)
    result = parse_result(proc.stdout)
    if result is None or proc.returncode != 0 or not result.get("ok", False):
        return dict(record, error=f"exit code {proc.returncode}; stderr tail:\n{proc.stderr_tail}")
    return dict(record, per_unit_ms=result["per_unit_ms"], wall_s=proc.wall_s)


def compare(repeat: int, scratch: Path, timeout: float) -> dict[str, Any]:
    """Medians per workload and store, the PostgreSQL / SQLite ratios, and every run."""
    from tests.pg import PostgresServer

    engine = cadenza_engines()[0]  # the service mode: the orchestrator is its own process
    server = PostgresServer.start(durable=True)
    runs: list[dict[str, Any]] = []
    try:
        for rep in range(repeat):
            for workload in WORKLOADS:
                for store in STORES if rep % 2 == 0 else reversed(STORES):
                    workdir = Path(tempfile.mkdtemp(prefix=f"{store}-{workload}-", dir=scratch))
                    database = server.new_database() if store == "postgres" else str(workdir / "bench.db")
                    run = dict(
                        _one_run(engine, workload, database, workdir, timeout),
                        store=store,
                        repetition=rep + 1,
                    )
                    if store == "postgres":
                        server.drop_database(database)
                    runs.append(run)
                    shown = (
                        run.get("error", "").splitlines()[0]
                        if "error" in run
                        else f"{run['per_unit_ms']:.3f} ms/task"
                    )
                    print(f"  rep {rep + 1}/{repeat} {workload} on {store}: {shown}", flush=True)
        (version,) = server.sql("SHOW server_version")[0]
    finally:
        server.stop()
    summary: dict[str, Any] = {}
    for workload in WORKLOADS:
        medians = {}
        for store in STORES:
            good = [
                r["per_unit_ms"]
                for r in runs
                if r["workload"] == workload and r["store"] == store and "error" not in r
            ]
            medians[store] = statistics.median(good) if good else None
        sqlite, postgres = medians["sqlite"], medians["postgres"]
        ratio = postgres / sqlite if sqlite and postgres else None
        summary[workload] = {"sqlite_ms": sqlite, "postgres_ms": postgres, "ratio": ratio}
    return {"postgres_version": version, "fsync": True, "summary": summary, "runs": runs}


def render(result: dict[str, Any]) -> str:
    lines = [
        f"Orchestrator on PostgreSQL {result['postgres_version']} (fsync on, loopback) vs SQLite "
        "(WAL, synchronous=NORMAL), service mode, ms per task (median):",
        "",
        "| workload | SQLite | PostgreSQL | PostgreSQL / SQLite |",
        "|---|---:|---:|---:|",
    ]
    for workload, s in result["summary"].items():

        def cell(value: float | None) -> str:
            return f"{value:.3f}" if value is not None else "failed"

        ratio = f"{s['ratio']:.2f}x" if s["ratio"] is not None else "-"
        lines.append(f"| {workload} | {cell(s['sqlite_ms'])} | {cell(s['postgres_ms'])} | {ratio} |")
    return "\n".join(lines)
