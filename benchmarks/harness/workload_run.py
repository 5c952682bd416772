"""One workload run on one engine, in a fresh process with a fresh database (and, in service
mode, its own orchestrator process); and the gRPC floor."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .baseline import is_under
from .catalog import FLOOR_SCRIPT, ROOT, UNITS, WORKLOADS_SCRIPT
from .engines import Engine, engine_env, workload_env
from .processes import clean_env, parse_result, run_process, status_kib, tail


class OrchestratorService:
    """`python -m orchestrator serve --port 0` of `engine`'s code on a fresh database, for one
    workload run."""

    def __init__(self, workdir: Path, engine: Engine) -> None:
        self.log_path = workdir / "orchestrator.log"
        cmd = [
            sys.executable,
            "-m",
            "orchestrator",
            "serve",
            "--port",
            "0",
            "--db",
            str(workdir / "bench.db"),
        ]
        # `-m` puts the working directory first on sys.path: the checkout whose code it runs.
        cwd = engine.code or ROOT
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=cwd, env=engine_env(engine), stdout=subprocess.PIPE, stderr=log, text=True
            )
        self.address = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if "listening on" in line:
                self.address = line.strip().rsplit(" ", 1)[-1]
                break
        if not self.address:
            self.stop()
            raise RuntimeError(f"the orchestrator did not start:\n{tail(self.log_path)}")
        # Keep draining its stdout so that it can never block on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def rss_mib(self) -> tuple[float | None, float | None]:
        hwm = status_kib(self.proc.pid, "VmHWM")
        rss = status_kib(self.proc.pid, "VmRSS")
        return (hwm / 1024.0 if hwm else None), (rss / 1024.0 if rss else None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_workload(engine: Engine, workload: str, n: int, scratch: Path, timeout: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{engine.key}-{workload}-{n}-", dir=scratch))
    env = workload_env(engine, workdir)
    record: dict[str, Any] = {"engine": engine.key, "workload": workload, "n": n, "unit": UNITS[workload]}
    orchestrator = None
    if engine.service:
        try:
            orchestrator = OrchestratorService(workdir, engine)
        except Exception as exc:  # an engine failure: recorded, not fatal to the benchmark
            record["error"] = str(exc)
            return record
        env["CADENZA_ORCHESTRATOR"] = orchestrator.address
    cmd = [str(engine.python), str(WORKLOADS_SCRIPT), workload, "--n", str(n)]
    try:
        proc = run_process(cmd, env, workdir, workdir / "workload.log", timeout)
    finally:
        if orchestrator is not None:
            record["orchestrator_peak_rss_mib"], record["orchestrator_rss_mib"] = orchestrator.rss_mib()
            orchestrator.stop()
    record.update(
        wall_s=proc.wall_s, peak_rss_mib=proc.peak_rss_mib, tree_peak_rss_mib=proc.tree_peak_rss_mib
    )
    result = parse_result(proc.stdout)
    if result is None or proc.returncode != 0:
        why = "timed out" if proc.timed_out else f"exit code {proc.returncode}"
        record["error"] = f"{why}; stderr tail:\n{proc.stderr_tail}"
        if result is None:
            return record
    record["engine_version"] = result.get("engine")
    record.update({k: v for k, v in result.items() if k not in ("engine", "workload", "n", "unit")})
    if not result.get("ok", False):
        record["error"] = "wrong results: " + "; ".join(result.get("problems", []))
    elif engine.code is not None and not is_under(result.get("engine_file"), engine.code):
        record["error"] = f"ran {result.get('engine_file')}, not the baseline's code under {engine.code}"
    if "error" not in record:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        record["workdir"] = str(workdir)  # kept for the post-mortem
    return record


def measure_floor(scratch: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(FLOOR_SCRIPT)], capture_output=True, text=True, cwd=scratch, env=clean_env()
    )
    result = parse_result(proc.stdout)
    if result is None:
        raise SystemExit(f"the floor measurement failed:\n{proc.stderr[-2000:]}")
    return result
