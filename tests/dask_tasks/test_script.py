"""A flow script run as `python file.py`, as a user runs one: nothing configured (the engine
starts its embedded orchestrator on loopback), a LocalCluster of worker processes, and the
`if __name__ == "__main__":` guard that spawned workers need; its tasks travel by value."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(90)

SCRIPT = """
import os
from executor import flow, task
from executor.client import get_client
from executor.task_runners import DaskTaskRunner

@task(retries=1)
def square(x):
    return x * x, os.getpid()

@flow(task_runner=DaskTaskRunner(cluster_kwargs={"n_workers": 1, "processes": True}))
def squares(n):
    return [f.result() for f in square.map(range(n))]

if __name__ == "__main__":
    results = squares(4)
    runs = get_client().read_task_runs()
    print("VALUES", [value for value, _ in results])
    print("PIDS", sorted({pid for _, pid in results}), os.getpid())
    print("STATES", sorted({run.state.name for run in runs}), len(runs))
"""


def test_a_flow_script_on_a_local_cluster_with_the_embedded_orchestrator(tmp_path):
    script = tmp_path / "squares.py"
    script.write_text(SCRIPT)
    env = {key: value for key, value in os.environ.items() if not key.upper().startswith("CADENZA_")}
    env["CADENZA_HOME"] = str(tmp_path / "home")
    out = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=80, cwd=tmp_path
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "VALUES [0, 1, 4, 9]" in out.stdout, out.stdout + out.stderr
    pids = re.search(r"PIDS \[([\d, ]+)\] (\d+)", out.stdout)
    assert pids, out.stdout
    assert pids.group(2) not in pids.group(1).split(", ")
    assert "STATES ['Completed'] 4" in out.stdout
