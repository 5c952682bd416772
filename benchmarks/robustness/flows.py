"""Flows the robustness tools run through an executor, by the module entrypoint
`benchmarks.robustness.flows:NAME` (allowed with CADENZA_ALLOWED_ENTRYPOINTS) or deployed by
this file's path."""

from __future__ import annotations

import os
import time
from pathlib import Path

from executor import flow, task

MODULE = "benchmarks.robustness.flows"
# What the executors these tools start may load: this module, and this folder for deployments.
ALLOWED = f"{MODULE},{Path(__file__).resolve().parent}"


@flow
def quick() -> int:
    return 1


@task
def write_pid_and_sleep(pid_file: str, seconds: float) -> None:
    with open(pid_file + ".tmp", "w") as fh:
        fh.write(str(os.getpid()))
    os.replace(pid_file + ".tmp", pid_file)  # whole or absent: the reader never sees half a pid
    time.sleep(seconds)


@flow
def pid_then_sleep(pid_file: str, seconds: float = 600) -> None:
    """Publishes the pid of the process running it, then sleeps inside a task run."""
    write_pid_and_sleep(pid_file, seconds)
