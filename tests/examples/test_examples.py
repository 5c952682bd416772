"""The examples run as plain scripts on the embedded default, as the README promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    "script, expected",
    [
        ("demo_etl.py", "{'rows': 5, 'sum_of_squares': 55}"),
        ("fanout.py", "{'pages': 18, 'missing': 2, 'words': 1971}"),
        ("approval.py", "applied: migrate orders-db"),
    ],
)
def test_example_runs_as_a_script(script, expected, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["CADENZA_HOME"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == expected, out.stdout
