"""One child process of the benchmark: a clean environment, its own session, wait4 for its
peak RSS, and the peaks of whatever it started, sampled while it runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


def status_kib(pid: int, key: str) -> int | None:
    """A KiB figure (VmHWM, VmRSS) from /proc/PID/status, or None once the process is gone."""
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


def run_process(
    cmd: list[str], env: dict[str, str], cwd: Path, log_path: Path, timeout: float
) -> ProcessResult:
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
                hwm = status_kib(pid, "VmHWM")
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
        stderr_tail=tail(log_path),
        timed_out=timed_out.is_set(),
    )


def _kill_session(sid: int) -> None:
    try:
        os.killpg(sid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def parse_result(stdout: str) -> dict[str, Any] | None:
    """The `BENCH_RESULT {json}` line a workload or floor process prints last."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("BENCH_RESULT "):
            return json.loads(line[len("BENCH_RESULT ") :])
    return None
