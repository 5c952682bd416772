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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.harness.processes import tail
from benchmarks.robustness.services import ServiceFailed, ServiceProcess
from benchmarks.robustness.services import start_service as _start_service

REPO = Path(__file__).resolve().parents[2]


def service_env(**overrides: str) -> dict[str, str]:
    """The test process's environment without CADENZA_* settings, plus `overrides`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CADENZA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(overrides)
    return env


def start_service(name: str, argv: list[str], env: dict[str, str], log_path: Path) -> ServiceProcess:
    """Run `python -m <name> serve ...` and wait for it to announce its address (the tools in
    benchmarks/ start services the same way); a failure to start fails the test with its log."""
    try:
        return _start_service(name, argv, env, log_path)
    except ServiceFailed as exc:
        pytest.fail(str(exc), pytrace=False)


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
