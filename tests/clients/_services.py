"""Both Cadenza services as real subprocesses on loopback ports picked at run time.

* `running_services(tmp, **env)`: an orchestrator and an executor wired to it, as a context
  manager yielding `Services(orchestrator="127.0.0.1:P", executor="127.0.0.1:Q", home=tmp)`.
  The executor allows entrypoints under `tests.clients` (see `flows.py`).
* `start_service(name, argv, env, log_path)`: one `python -m <name> serve ...` process.

Each service writes its stdout and stderr to a log file; its address is read from the line
`Cadenza <name> listening on HOST:PORT`, and a failure to start shows the end of that log.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0


def tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen
    log_path: Path
    address: str = ""

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `grace`; then kill whatever it left in its process group."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        try:  # children (flow run processes) the service did not reap
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def service_env(**overrides: str) -> dict[str, str]:
    """The test process's environment without CADENZA_* settings, plus `overrides`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CADENZA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(overrides)
    return env


def start_service(name: str, argv: list[str], env: dict[str, str], log_path: Path) -> ServiceProcess:
    """Run `python -m <name> serve ...` and wait for it to announce its address."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", name, "serve", *argv],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() can clean up its children
        )
    service = ServiceProcess(name, process, log_path)
    listening = re.compile(rf"Cadenza {name} listening on (\S+:\d+)")
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        match = listening.search(log_path.read_text(errors="replace"))
        if match:
            service.address = match.group(1)
            return service
        time.sleep(0.05)
    service.stop()
    pytest.fail(
        f"the {name} did not report 'Cadenza {name} listening on HOST:PORT' within "
        f"{STARTUP_TIMEOUT:.0f}s (exit code {process.returncode}); its output:\n{tail(log_path)}",
        pytrace=False,
    )


@dataclass
class Services:
    orchestrator: str
    executor: str
    home: Path  # CADENZA_HOME of both; their logs are `orchestrator.log` and `executor.log` here

    def log_tail(self, name: str, lines: int = 40) -> str:
        return tail(self.home / f"{name}.log", lines)


@contextlib.contextmanager
def running_services(tmp: Path, **env: str) -> Iterator[Services]:
    """An orchestrator and an executor wired to it, with `env` (e.g. CADENZA_API_TOKEN) for both."""
    orchestrator = start_service(
        "orchestrator",
        ["--host", "127.0.0.1", "--port", "0", "--db", str(tmp / "o.db")],
        service_env(CADENZA_HOME=str(tmp), **env),
        tmp / "orchestrator.log",
    )
    try:
        executor = start_service(
            "executor",
            ["--host", "127.0.0.1", "--port", "0", "--orchestrator", orchestrator.address],
            service_env(CADENZA_HOME=str(tmp), CADENZA_ALLOWED_ENTRYPOINTS="tests.clients", **env),
            tmp / "executor.log",
        )
        try:
            yield Services(orchestrator.address, executor.address, tmp)
        finally:
            executor.stop()
    finally:
        orchestrator.stop()
