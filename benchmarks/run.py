"""Run the benchmark: `python -m benchmarks.run` (what `make bench` does).

    python -m benchmarks.run                      # floor, W1-W4 on Cadenza (service + embedded), scale 1k/10k
    python -m benchmarks.run --scale-only --scale 1000,10000,100000     # make bench-scale
    python -m benchmarks.run --peer --scale ''    # make bench-peer: Cadenza vs Prefect 2.20 vs 3.9

Every workload run is its own process (benchmarks/workloads.py), started fresh with a fresh
database; repetitions are interleaved (rep 1 of every engine and workload, then rep 2, ...) so
that a noisy stretch of the machine hits them all alike; figures are medians of the repetitions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
WORKLOADS_SCRIPT = HERE / "workloads.py"
FLOOR_SCRIPT = HERE / "floor.py"
RESULTS = HERE / "results"
DEFAULT_N = {"W1": 500, "W2": 500, "W3": 100, "W4": 20}
UNITS = {"W1": "task", "W2": "task", "W3": "flow run", "W4": "flow run"}
TITLES = {
    "W1": "W1 chain",
    "W2": "W2 fan-out",
    "W3": "W3 many flows",
    "W4": "W4 retries",
}


@dataclass
class Engine:
    key: str  # cadenza-service | cadenza-embedded | prefect2 | prefect3
    label: str
    python: Path
    peer: bool = False
    version: str = ""


def cadenza_engines() -> list[Engine]:
    py = Path(sys.executable)
    return [
        Engine("cadenza-service", "Cadenza (service)", py),
        Engine("cadenza-embedded", "Cadenza (embedded)", py),
    ]


def prefect_engines() -> list[Engine]:
    out = []
    for key, label in (("prefect2", "Prefect 2.20"), ("prefect3", "Prefect 3.9")):
        py = ROOT / ".bench" / key / "bin" / "python"
        if not py.exists():
            raise SystemExit(f"{py} is missing: run `make bench-peer`, which creates .bench/{key}")
        version = subprocess.run(
            [str(py), "-c", "import importlib.metadata as m; print(m.version('prefect'))"],
            capture_output=True, text=True, cwd=tempfile.gettempdir(), env=clean_env(),
        ).stdout.strip()
        out.append(Engine(key, f"Prefect {version or label[8:]}", py, peer=True, version=version))
    return out


# -- processes ------------------------------------------------------------------------------------
def clean_env() -> dict[str, str]:
    """The parent's environment without anything that would steer an engine or the imports."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CADENZA_", "PREFECT_", "BENCH_"))
        and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }


def _session_processes(sid: int) -> list[int]:
    """Pids in session `sid` (each workload process leads its own session, so this is the
    process and everything it started, e.g. Prefect 3's ephemeral API server)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # fields after ")": state ppid pgrp session ...
            pids.append(int(entry))
    return pids


def _status_kib(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class ProcessResult:
    returncode: int
    wall_s: float
    peak_rss_mib: float
    tree_peak_rss_mib: float
    stdout: str
    stderr_tail: str
    timed_out: bool = False


def run_process(cmd: list[str], env: dict[str, str], cwd: Path, log_path: Path, timeout: float) -> ProcessResult:
    """Start `cmd` in its own session, wait for it with wait4, and sample the peak RSS
    (VmHWM) of every process of its session while it runs."""
    env = dict(env, BENCH_T0=repr(time.time()))
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=log, start_new_session=True
        )
    out_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    descendants: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.25):
            for pid in _session_processes(proc.pid):
                if pid == proc.pid:
                    continue
                hwm = _status_kib(pid, "VmHWM")
                if hwm:
                    descendants[pid] = max(descendants.get(pid, 0), hwm)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timed_out = threading.Event()

    def on_timeout() -> None:
        timed_out.set()
        _kill_session(proc.pid)

    timer = threading.Timer(timeout, on_timeout)
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    timer.cancel()
    done.set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    _kill_session(proc.pid)  # whatever it left behind (a server subprocess that outlived it)
    reader.join(10)
    sampler.join(2)
    own = usage.ru_maxrss / 1024.0  # KiB on Linux
    return ProcessResult(
        returncode=proc.returncode,
        wall_s=wall,
        peak_rss_mib=own,
        tree_peak_rss_mib=own + sum(descendants.values()) / 1024.0,
        stdout=b"".join(out_chunks).decode(errors="replace"),
        stderr_tail=_tail(log_path),
        timed_out=timed_out.is_set(),
    )


def _kill_session(sid: int) -> None:
    try:
        os.killpg(sid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def parse_result(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("BENCH_RESULT "):
            return json.loads(line[len("BENCH_RESULT "):])
    return None


class Orchestrator:
    """`python -m orchestrator serve --port 0` on a fresh database, for one workload run."""

    def __init__(self, workdir: Path) -> None:
        self.log_path = workdir / "orchestrator.log"
        cmd = [sys.executable, "-m", "orchestrator", "serve", "--port", "0", "--db", str(workdir / "bench.db")]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE, stderr=log, text=True
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
            raise RuntimeError(f"the orchestrator did not start:\n{_tail(self.log_path)}")
        # Keep draining its stdout so that it can never block on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def rss_mib(self) -> tuple[float | None, float | None]:
        hwm = _status_kib(self.proc.pid, "VmHWM")
        rss = _status_kib(self.proc.pid, "VmRSS")
        return (hwm / 1024.0 if hwm else None), (rss / 1024.0 if rss else None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- one workload run -----------------------------------------------------------------------------
def run_workload(engine: Engine, workload: str, n: int, scratch: Path, timeout: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{engine.key}-{workload}-{n}-", dir=scratch))
    env = clean_env()
    record: dict[str, Any] = {"engine": engine.key, "workload": workload, "n": n, "unit": UNITS[workload]}
    orchestrator = None
    if engine.key.startswith("cadenza"):
        env["BENCH_ENGINE"] = "cadenza"
        env["CADENZA_HOME"] = str(workdir / "home")
        if engine.key == "cadenza-service":
            try:
                orchestrator = Orchestrator(workdir)
            except Exception as exc:  # an engine failure: recorded, not fatal to the benchmark
                record["error"] = str(exc)
                return record
            env["CADENZA_ORCHESTRATOR"] = orchestrator.address
    else:
        env["BENCH_ENGINE"] = "prefect"
        env["PREFECT_HOME"] = str(workdir / "prefect-home")
        # Prefect's ephemeral default: no API URL, a temporary server Prefect starts itself.
        env["PREFECT_SERVER_ALLOW_EPHEMERAL_MODE"] = "true"
        # Prefect 3 gives its ephemeral server 20 s to start; a busy 2-core box can exceed that.
        env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
        # No telemetry from a benchmark machine (it only affects the server's start-up ping).
        env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        env["DO_NOT_TRACK"] = "1"
    cmd = [str(engine.python), str(WORKLOADS_SCRIPT), workload, "--n", str(n)]
    try:
        proc = run_process(cmd, env, workdir, workdir / "workload.log", timeout)
    finally:
        if orchestrator is not None:
            record["orchestrator_peak_rss_mib"], record["orchestrator_rss_mib"] = orchestrator.rss_mib()
            orchestrator.stop()
    record.update(wall_s=proc.wall_s, peak_rss_mib=proc.peak_rss_mib, tree_peak_rss_mib=proc.tree_peak_rss_mib)
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
    if "error" not in record:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        record["workdir"] = str(workdir)  # kept for the post-mortem
    return record


# -- floor ----------------------------------------------------------------------------------------
def measure_floor(scratch: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(FLOOR_SCRIPT)], capture_output=True, text=True, cwd=scratch, env=clean_env()
    )
    result = parse_result(proc.stdout)
    if result is None:
        raise SystemExit(f"the floor measurement failed:\n{proc.stderr[-2000:]}")
    return result


# -- summaries ------------------------------------------------------------------------------------
NUMERIC = (
    "per_unit_ms", "startup_s", "first_flow_s", "import_s", "work_s", "elapsed_s", "wall_s",
    "peak_rss_mib", "tree_peak_rss_mib", "peak_rss_self_mib", "orchestrator_peak_rss_mib",
    "orchestrator_rss_mib", "round_trips_per_unit",
)


def summarise(runs: list[dict[str, Any]], two_floors_ms: float) -> dict[str, Any]:
    good = [r for r in runs if "error" not in r]
    out: dict[str, Any] = {"repetitions": len(runs), "succeeded": len(good)}
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        out["errors"] = errors
    for key in NUMERIC:
        values = [r[key] for r in good if isinstance(r.get(key), (int, float))]
        if values:
            out[key] = statistics.median(values)
        elif good and key in good[0]:
            out[key] = good[0][key]  # "n/a"
    if "per_unit_ms" in out:
        out["floor_multiple"] = out["per_unit_ms"] / two_floors_ms
    if good and "rpc_by_method" in good[0]:
        out["rpc_by_method"] = good[0]["rpc_by_method"]
    return out


def fmt(value: Any, spec: str = ".2f", missing: str = "-") -> str:
    if value is None:
        return missing
    if isinstance(value, str):
        return value
    return format(value, spec)


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def floor_text(floors: list[dict[str, Any]], two_floors_ms: float) -> str:
    parts = []
    for label, f in zip(("before", "after"), floors):
        parts.append(
            f"  {label}: unary {f['unary']['median_us']:.0f} µs (p99 {f['unary']['p99_us']:.0f}), "
            f"stream ping-pong {f['stream']['median_us']:.0f} µs (p99 {f['stream']['p99_us']:.0f})"
        )
    return (
        "gRPC floor (empty messages, aio client -> aio server in another process, medians):\n"
        + "\n".join(parts)
        + f"\n  2 x stream floor = {two_floors_ms:.3f} ms: the 'x floor' column is per-unit time over this"
    )


def workload_table(engine: Engine, summary: dict[str, dict[str, Any]], workloads: list[str]) -> str:
    service = engine.key == "cadenza-service"
    headers = ["workload", "n", "ms/unit", "x floor", "rt/unit", "start-up s", "elapsed s", "wall s", "RSS MiB"]
    if service:
        headers.append("orch. RSS")
    rows = []
    for w in workloads:
        s = summary.get(w)
        if s is None:
            continue
        if not s.get("succeeded"):
            rows.append([TITLES[w], "", "FAILED"] + [""] * (len(headers) - 3))
            continue
        row = [
            f"{TITLES[w]} (per {UNITS[w]})",
            str(s.get("n", DEFAULT_N[w])),
            fmt(s.get("per_unit_ms"), ".3f"),
            fmt(s.get("floor_multiple"), ".1f"),
            fmt(s.get("round_trips_per_unit"), ".2f"),
            fmt(s.get("startup_s"), ".3f"),
            fmt(s.get("elapsed_s"), ".2f"),
            fmt(s.get("wall_s"), ".2f"),
            fmt(s.get("tree_peak_rss_mib"), ".0f"),
        ]
        if service:
            row.append(fmt(s.get("orchestrator_peak_rss_mib"), ".0f"))
        if s["succeeded"] < s["repetitions"]:
            row[0] += f" [{s['repetitions'] - s['succeeded']} failed]"
        rows.append(row)
    return f"{engine.label}\n" + table(headers, rows)


def targets_text(summary: dict[str, dict[str, dict[str, Any]]], scale: dict[str, Any] | None) -> str:
    """Issue 5's targets, checked against this run's medians."""
    svc = summary.get("cadenza-service", {})
    emb = summary.get("cadenza-embedded", {})
    checks = []

    def check(label: str, value: float | None, limit: float, unit: str, below: bool = True) -> None:
        if value is None:
            checks.append(f"  [ n/a] {label}")
            return
        met = value <= limit if below else value >= limit
        checks.append(f"  [{' met' if met else 'MISS'}] {label}: {value:.3f} {unit} (target {'<=' if below else '>='} {limit} {unit})")

    if summary:  # not in a scale-only run
        check("W1 per task, service", svc.get("W1", {}).get("per_unit_ms"), 0.5, "ms")
        check("W1 per task as a multiple of 2 x stream floor", svc.get("W1", {}).get("floor_multiple"), 2.0, "x")
        w2 = svc.get("W2", {}).get("per_unit_ms")
        check("W2 task runs per second, service", 1000.0 / w2 if w2 else None, 2000, "/s", below=False)
        check("W3 per flow run, service", svc.get("W3", {}).get("per_unit_ms"), 5.0, "ms")
        startups = [s.get("startup_s") for s in emb.values() if s.get("startup_s") is not None]
        check("start-up of the embedded default (median over workloads)", statistics.median(startups) if startups else None, 0.5, "s")
    if scale:
        for w in ("W1", "W2"):
            rows = {int(k): v for k, v in scale.get(w, {}).items() if "error" not in v}
            if 100000 in rows and 1000 in rows:
                ratio = rows[100000]["per_unit_ms"] / rows[1000]["per_unit_ms"]
                check(f"{w} 100k per-task time over the 1k figure", ratio, 1.5, "x")
                rss = rows[100000].get("tree_peak_rss_mib", 0) + (rows[100000].get("orchestrator_peak_rss_mib") or 0)
                check(f"{w} 100k peak RSS (engine + orchestrator)", rss, 1024, "MiB")
    return "Issue 5 targets (medians, Cadenza against its orchestrator service):\n" + "\n".join(checks)


def scale_table(scale: dict[str, dict[str, dict[str, Any]]]) -> str:
    headers = ["workload", "tasks", "ms/task", "vs smallest", "rt/task", "work s", "wall s", "RSS MiB", "orch. RSS"]
    rows = []
    for w, by_n in scale.items():
        sizes = sorted(by_n, key=int)
        base = next((by_n[k]["per_unit_ms"] for k in sizes if "error" not in by_n[k]), None)
        for k in sizes:
            r = by_n[k]
            if "error" in r:
                rows.append([TITLES[w], f"{int(k):,}", "FAILED", "", "", "", "", "", ""])
                continue
            rows.append([
                TITLES[w], f"{int(k):,}", fmt(r["per_unit_ms"], ".3f"),
                fmt(r["per_unit_ms"] / base if base else None, ".2f"),
                fmt(r.get("round_trips_per_unit"), ".2f"), fmt(r.get("work_s"), ".1f"),
                fmt(r.get("wall_s"), ".1f"), fmt(r.get("tree_peak_rss_mib"), ".0f"),
                fmt(r.get("orchestrator_peak_rss_mib"), ".0f"),
            ])
    return "Scale (Cadenza against its orchestrator service, one run each):\n" + table(headers, rows)


def peer_table(engines: list[Engine], summary: dict[str, dict[str, dict[str, Any]]], workloads: list[str]) -> str:
    cz_s, cz_e = "cadenza-service", "cadenza-embedded"
    peers = [e for e in engines if e.peer]
    headers = ["median", *[e.label for e in engines]]
    for p in peers:
        short = "P" + p.key[-1]
        headers += [f"{short}/svc", f"{short}/emb"]

    def row(label: str, getter, spec: str) -> list[str]:
        values = {e.key: getter(e.key) for e in engines}
        cells = [label, *[fmt(values[e.key], spec) for e in engines]]
        for p in peers:
            for base in (cz_s, cz_e):
                a, b = values.get(p.key), values.get(base)
                cells.append(fmt(a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None, ".1f"))
        return cells

    def field(w: str, key: str):
        return lambda e: summary.get(e, {}).get(w, {}).get(key)

    rows = []
    for w in workloads:
        rows.append(row(f"{TITLES[w]}, ms per {UNITS[w]}", field(w, "per_unit_ms"), ".3f"))
    for w in workloads:
        rows.append(row(f"{w} x (2 x stream floor)", field(w, "floor_multiple"), ".1f"))
    def startup(e: str) -> float | None:
        values = [s.get("startup_s") for s in summary.get(e, {}).values() if s.get("startup_s") is not None]
        return statistics.median(values) if values else None
    rows.append(row("start-up s (first flow call)", startup, ".3f"))
    for w in workloads:
        rows.append(row(f"{w} whole process wall s", field(w, "wall_s"), ".2f"))
    def all_rss(w: str):
        # Every process of the engine: Prefect's own children, and Cadenza's separate orchestrator.
        def get(e: str) -> float | None:
            s = summary.get(e, {}).get(w, {})
            if s.get("tree_peak_rss_mib") is None:
                return None
            return s["tree_peak_rss_mib"] + (s.get("orchestrator_peak_rss_mib") or 0.0)
        return get

    for w in workloads:
        rows.append(row(f"{w} peak RSS MiB (all processes)", all_rss(w), ".0f"))
    for w in workloads:
        rows.append(row(f"{w} round trips per {UNITS[w]}", field(w, "round_trips_per_unit"), ".2f"))
    note = (
        "Ratios are Prefect / Cadenza (svc: against `orchestrator serve`; emb: embedded default):\n"
        "above 1 means Cadenza is faster (smaller). Prefect runs on its ephemeral default.\n"
        "Peak RSS adds up every process of the engine: Cadenza (service) includes its orchestrator,\n"
        "Prefect 3 its ephemeral API server subprocess; Prefect 2 and Cadenza (embedded) run in one."
    )
    return "Cadenza vs Prefect, measured side by side in this run:\n" + table(headers, rows) + "\n" + note


# -- main -----------------------------------------------------------------------------------------
def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", "3")))
    parser.add_argument("--workloads", default="W1,W2,W3,W4")
    parser.add_argument("--modes", default="service,embedded", help="Cadenza modes: service, embedded")
    parser.add_argument("--scale", default="1000,10000", help="W1/W2 sizes for the scale runs ('' for none)")
    parser.add_argument("--scale-only", action="store_true", help="only the floor and the scale runs")
    parser.add_argument("--peer", action="store_true", help="also run Prefect 2.20 and 3.9 from .bench/")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per workload process")
    parser.add_argument("--out", default=None, help="JSON file (default benchmarks/results/<kind>.json)")
    parser.add_argument("--show", metavar="FILE", help="print the tables of a results file and exit")
    args = parser.parse_args(argv)
    if args.show:
        print(render(json.loads(Path(args.show).read_text())))
        return 0

    workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    sizes = [int(s) for s in args.scale.split(",") if s.strip()]
    engines = [e for e in cadenza_engines() if e.key.split("-")[1] in args.modes.split(",")]
    if args.peer:
        engines += prefect_engines()
    kind = "peer" if args.peer else ("scale" if args.scale_only else "latest")
    out_path = Path(args.out) if args.out else RESULTS / f"{kind}.json"
    scratch = Path(tempfile.mkdtemp(prefix="cadenza-bench-"))
    began = time.perf_counter()
    print(f"scratch: {scratch}", flush=True)

    floors = [measure_floor(scratch)]
    print(f"floor: unary {floors[0]['unary']['median_us']:.0f} µs, stream {floors[0]['stream']['median_us']:.0f} µs", flush=True)

    runs: list[dict[str, Any]] = []
    if not args.scale_only:
        for rep in range(args.repeat):
            for w in workloads:
                for engine in engines:
                    r = run_workload(engine, w, DEFAULT_N[w], scratch, args.timeout)
                    r["repetition"] = rep + 1
                    runs.append(r)
                    status = "ERROR " + r["error"].splitlines()[0] if "error" in r else f"{r['per_unit_ms']:.3f} ms/{UNITS[w]}"
                    print(f"  rep {rep + 1}/{args.repeat} {w} {engine.label}: {status} (wall {r.get('wall_s', 0):.1f} s)", flush=True)

    scale_runs: list[dict[str, Any]] = []
    service = cadenza_engines()[0]
    for w in ("W1", "W2"):
        for n in sizes:
            r = run_workload(service, w, n, scratch, args.timeout)
            scale_runs.append(r)
            status = "ERROR " + r["error"].splitlines()[0] if "error" in r else f"{r['per_unit_ms']:.3f} ms/task"
            print(f"  scale {w} n={n:,}: {status} (wall {r.get('wall_s', 0):.1f} s)", flush=True)

    floors.append(measure_floor(scratch))
    two_floors_ms = 2 * statistics.fmean(f["stream"]["median_us"] for f in floors) / 1000.0

    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for engine in engines:
        for w in workloads:
            mine = [r for r in runs if r["engine"] == engine.key and r["workload"] == w]
            if mine:
                summary.setdefault(engine.key, {})[w] = dict(summarise(mine, two_floors_ms), n=DEFAULT_N[w])
    scale: dict[str, dict[str, dict[str, Any]]] = {}
    for r in scale_runs:
        entry = dict(r)
        if "per_unit_ms" in entry:
            entry["floor_multiple"] = entry["per_unit_ms"] / two_floors_ms
        scale.setdefault(r["workload"], {})[str(r["n"])] = entry

    failures = [r for r in runs + scale_runs if "error" in r]
    took = time.perf_counter() - began
    document = {
        "kind": kind,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "took_s": took,
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
            e.key: {"label": e.label, "python": str(e.python), "version": e.version, "peer": e.peer}
            for e in engines
        },
        "floor": {"runs": floors, "two_stream_floors_ms": two_floors_ms},
        "summary": summary,
        "scale": scale,
        "runs": runs,
        "failures": [
            {k: r.get(k) for k in ("engine", "workload", "n", "error", "workdir")} for r in failures
        ],
    }
    shown = out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path
    print("\n\n" + render(document) + f"\nResults: {shown}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(document, indent=2) + "\n")
    if failures:
        print(f"(failed runs' logs kept under {scratch})")
        return 1
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


def render(document: dict[str, Any]) -> str:
    """The tables of a results document (also `python -m benchmarks.run --show FILE`)."""
    engines = [
        Engine(key, e["label"], Path(e["python"]), peer=e.get("peer", key.startswith("prefect")), version=e.get("version", ""))
        for key, e in document["engines"].items()
    ]
    summary, scale = document["summary"], document["scale"]
    workloads = document.get("workloads") or sorted({w for by_w in summary.values() for w in by_w})
    floors, two_floors_ms = document["floor"]["runs"], document["floor"]["two_stream_floors_ms"]
    sections = [floor_text(floors, two_floors_ms)]
    if workloads:
        sections += [workload_table(e, summary.get(e.key, {}), workloads) for e in engines]
        if any(e.peer for e in engines):
            sections.append(peer_table(engines, summary, workloads))
    if scale:
        sections.append(scale_table(scale))
    sections.append(targets_text(summary, scale))
    failures = document.get("failures", [])
    if failures:
        lines = [
            f"  {r['engine']} {r['workload']} n={r['n']}: {r['error'].splitlines()[0]} (logs: {r.get('workdir') or '-'})"
            for r in failures
        ]
        sections.append("Failures:\n" + "\n".join(lines))
    how = f"{document['repetitions']} repetition(s), medians" if workloads else "one run per size"
    sections.append(
        f"{document['kind']} run of {document['when']} at {document['commit']}: took {document['took_s']:.0f} s, {how}."
    )
    return "\n\n".join(sections)


if __name__ == "__main__":
    sys.exit(main())
