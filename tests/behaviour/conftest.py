"""One real orchestrator per test session and way of reaching it: a separate service on a
loopback port chosen at run time, and the embedded default's, in the engine's process (every
test runs both ways).

The engine reads CADENZA_ORCHESTRATOR and CADENZA_HOME when it first needs them (the first
flow call), so they are set here, before any test body runs. The orchestrator's database lives
outside CADENZA_HOME so that tests can look at the result files the engine writes there.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time

import pytest

from tests.environment import restored_environ
from tests.processes import stop_process

from ._deployments import deployer, deployments  # noqa: F401 (fixtures for the tests of deployed runs)

LISTENING = re.compile(r"Cadenza orchestrator listening on ([0-9.]+):(\d+)")
STARTUP_TIMEOUT = 20.0


def _pump(stream, lines: queue.Queue[str | None]) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


# Short slot WAITs: tasks waiting on a tag concurrency limit retry every 10 ms, so the limit
# tests stay fast and a waiting run goes through 100+ WAIT answers (enough to show that many
# waits in a row do not recurse).
SHORT_WAITS = {"CADENZA_SLOT_WAIT_SECONDS": "0.01", "CADENZA_SLOT_WAIT_MAX_SECONDS": "0.01"}
# Both ways the engine reaches its orchestrator: a separate service over gRPC, and the embedded
# default's orchestrator on the engine's own loop (CADENZA_TEST_ORCHESTRATORS narrows it).
MODES = [m for m in os.environ.get("CADENZA_TEST_ORCHESTRATORS", "service,in-process").split(",") if m]


@pytest.fixture(scope="session", autouse=True, params=MODES)
def orchestrator(request, tmp_path_factory):
    """Point the engine at an orchestrator for the whole session: `service` starts
    `python -m orchestrator serve`; `in-process` lets the engine start its own, in-process."""
    from executor import _runtime

    _runtime.shutdown()  # the engine keeps the orchestrator it first found: start afresh
    if request.param == "in-process":
        yield from _in_process(tmp_path_factory)
    else:
        yield from _service(tmp_path_factory)
    _runtime.shutdown()


def _in_process(tmp_path_factory):
    home = tmp_path_factory.mktemp("cadenza-home")
    names = ("CADENZA_ORCHESTRATOR", "CADENZA_HOME", "CADENZA_IN_PROCESS", *SHORT_WAITS)
    with restored_environ(*names):
        os.environ.pop("CADENZA_ORCHESTRATOR", None)
        os.environ.update(SHORT_WAITS, CADENZA_HOME=str(home), CADENZA_IN_PROCESS="true")
        from executor import _runtime

        address = _runtime.get_runtime().port.address  # type: ignore[attr-defined]
        yield {"address": address, "home": home, "process": None, "mode": "in-process"}


def _service(tmp_path_factory):
    db_dir = tmp_path_factory.mktemp("orchestrator-db")
    home = tmp_path_factory.mktemp("cadenza-home")
    env = dict(os.environ)
    env.update(SHORT_WAITS)
    env.pop("CADENZA_ORCHESTRATOR", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            str(db_dir / "cadenza.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        env=env,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()

    seen: list[str] = []
    address = None
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while address is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        if line is None:  # the process closed its output: it exited
            break
        seen.append(line)
        match = LISTENING.search(line)
        if match:
            address = f"{match.group(1)}:{match.group(2)}"
    if address is None:
        proc.kill()
        proc.wait(timeout=5)
        pytest.fail(
            "the orchestrator did not report 'Cadenza orchestrator listening on HOST:PORT' "
            f"within {STARTUP_TIMEOUT:.0f}s (exit code {proc.returncode}); its output:\n"
            + "".join(seen[-40:]),
            pytrace=False,
        )

    try:
        with restored_environ("CADENZA_ORCHESTRATOR", "CADENZA_HOME"):
            os.environ["CADENZA_ORCHESTRATOR"] = address
            os.environ["CADENZA_HOME"] = str(home)
            yield {"address": address, "home": home, "process": proc, "mode": "service"}
    finally:
        # The engine keeps its proposal stream open: a graceful stop would sit out its grace.
        stop_process(proc)


@pytest.fixture
def client(orchestrator):
    """The engine's synchronous orchestrator client."""
    from executor.client import get_client

    return get_client()


@pytest.fixture
def cadenza_home(orchestrator):
    return orchestrator["home"]
