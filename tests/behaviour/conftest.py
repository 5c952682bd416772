"""One real orchestrator service per test session, on a loopback port chosen at run time.

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


@pytest.fixture(scope="session", autouse=True)
def orchestrator(tmp_path_factory):
    """Start `python -m orchestrator serve` and point the engine at it for the whole session."""
    db_dir = tmp_path_factory.mktemp("orchestrator-db")
    home = tmp_path_factory.mktemp("cadenza-home")
    env = dict(os.environ)
    # Short slot WAITs: tasks waiting on a tag concurrency limit retry every 10 ms, so the
    # limit tests stay fast and a waiting run goes through 100+ WAIT answers (enough to show
    # that many waits in a row do not recurse).
    env.update(CADENZA_SLOT_WAIT_SECONDS="0.01", CADENZA_SLOT_WAIT_MAX_SECONDS="0.01")
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
            yield {"address": address, "home": home, "process": proc}
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
