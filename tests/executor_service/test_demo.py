"""`cadenza demo` (what `make demo` runs): both services, the example ETL flow deployed and run
through the Executor RPC, its states streamed, its JSON result printed, everything stopped."""

from __future__ import annotations

import json
import re
import subprocess

from tests.clients._services import service_env

from ._harness import CADENZA, REPO


def test_cadenza_demo(tmp_path):
    done = subprocess.run(
        [CADENZA, "demo"],
        cwd=REPO,
        env=service_env(CADENZA_HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    explain = f"exit {done.returncode}\n--- stdout\n{done.stdout}--- stderr\n{done.stderr[-3000:]}"
    assert done.returncode == 0, explain
    lines = done.stdout.splitlines()
    assert re.search(r"flow \S+ -> Completed$", "\n".join(lines), re.M), explain
    assert any(re.search(r"task extract-0 -> (AwaitingRetry|Retrying)", line) for line in lines), explain
    finished = [line for line in lines if re.search(r"\] flow \S+ -> Completed$", line)]
    assert finished and re.search(r"\[(\d+)/\1 tasks\]", finished[-1]), explain  # all tasks done
    result = next(line for line in lines if line.startswith("result: "))
    assert json.loads(result.removeprefix("result: ")) == {"rows": 5, "sum_of_squares": 55}, explain
