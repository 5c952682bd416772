"""Both services as real processes (`python -m orchestrator serve`, `python -m executor serve`)
on loopback ports they pick themselves, each in its own process group so that a stop also
reaps the flow-run processes an executor leaves behind; and the standard health check."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..harness.catalog import ROOT
from ..harness.processes import clean_env, tail

STARTUP_TIMEOUT = 30.0
ORCHESTRATOR_SERVICE = "cadenza.v1.Orchestrator"
EXECUTOR_SERVICE = "cadenza.v1.Executor"


class ServiceFailed(RuntimeError):
    """A service did not start, or did not answer its health check."""


def service_env(home: Path, **settings: str) -> dict[str, str]:
    """A clean environment (no CADENZA_* of the caller's) with CADENZA_HOME and `settings`."""
    env = clean_env()
    # Flow-run processes import their flows (benchmarks.robustness.flows) from the checkout.
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env["CADENZA_HOME"] = str(home)
    env.update(settings)
    return env


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen
    log_path: Path
    address: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> float:
        """SIGKILL the service alone (not its children); the monotonic time of the signal."""
        killed_at = time.monotonic()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        return killed_at

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, SIGKILL after `grace`, then whatever is left in its process group."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def log_tail(self, lines: int = 30) -> str:
        return tail(self.log_path, lines)


def start_service(name: str, argv: list[str], env: dict[str, str], log_path: Path) -> ServiceProcess:
    """`python -m <name> serve ...`, once it has announced its address. The log is appended to,
    so a service restarted on the same log keeps its earlier lives' lines."""
    offset = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", name, "serve", *argv],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = ServiceProcess(name, process, log_path)
    listening = re.compile(rf"Cadenza {name} listening on (\S+:\d+)")
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and service.alive():
        with open(log_path, "rb") as log:
            log.seek(offset)
            match = listening.search(log.read().decode(errors="replace"))
        if match:
            service.address = match.group(1)
            return service
        time.sleep(0.02)
    service.stop()
    raise ServiceFailed(
        f"the {name} did not announce its address within {STARTUP_TIMEOUT:.0f} s "
        f"(exit code {process.returncode}):\n{tail(log_path)}"
    )


def start_orchestrator(home: Path, db: Path, **settings: str) -> ServiceProcess:
    argv = ["--host", "127.0.0.1", "--port", "0", "--db", str(db)]
    return start_service("orchestrator", argv, service_env(home, **settings), home / "orchestrator.log")


def start_executor(home: Path, orchestrator: str, log_name: str = "executor.log", **settings: str):
    argv = ["--host", "127.0.0.1", "--port", "0", "--orchestrator", orchestrator]
    return start_service("executor", argv, service_env(home, **settings), home / log_name)


def serving(address: str, service_name: str, timeout: float = 5.0) -> bool:
    """Whether the service at `address` answers its health check with SERVING."""
    with grpc.insecure_channel(address) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service_name), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return answer.status == health_pb2.HealthCheckResponse.SERVING
