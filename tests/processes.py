"""Processes the tests start and watch: a free loopback port for one, whether a pid is still
alive, and stopping one that may sit out a graceful shutdown."""

from __future__ import annotations

import os
import socket
import subprocess


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid still exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_process(proc: subprocess.Popen, grace: float = 1.5) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds. A service whose clients keep streams open
    would sit out its whole graceful stop; the tests' data is throwaway, so do not wait long."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
