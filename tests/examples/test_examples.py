"""The examples run as plain scripts, as the README promises: on the embedded default (the
orchestrator in the script's own process) and against a separate `orchestrator serve`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import stop_process

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LISTENING = re.compile(r"Cadenza orchestrator listening on ([0-9.]+):(\d+)")


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["CADENZA_HOME"] = str(tmp_path / "home")
    return env


@pytest.fixture(scope="module")
def orchestrator_service(tmp_path_factory):
    """One `python -m orchestrator serve` on a free port for the examples run against a service."""
    db = tmp_path_factory.mktemp("examples-orchestrator") / "orchestrator.db"
    env = _clean_env(db.parent)
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
            str(db),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    address = None
    for line in proc.stdout:
        found = LISTENING.search(line)
        if found:
            address = f"{found.group(1)}:{found.group(2)}"
            break
    assert address, "the orchestrator did not start"
    yield address
    stop_process(proc)


@pytest.mark.parametrize("way", ["embedded", "service"])
@pytest.mark.parametrize(
    "script, expected",
    [
        ("demo_etl.py", "{'rows': 5, 'sum_of_squares': 55}"),
        ("fanout.py", "{'pages': 18, 'missing': 2, 'words': 1971}"),
        ("approval.py", "applied: migrate orders-db"),
    ],
)
def test_example_runs_as_a_script(script, expected, way, tmp_path, request):
    env = _clean_env(tmp_path)
    if way == "service":
        env["CADENZA_ORCHESTRATOR"] = request.getfixturevalue("orchestrator_service")
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == expected, out.stdout
