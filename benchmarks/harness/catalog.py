"""Where the benchmark's files are, and what each workload is (its size, unit and title)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "benchmarks"
WORKLOADS_SCRIPT = HERE / "workloads.py"
FLOOR_SCRIPT = HERE / "floor.py"
RESULTS = HERE / "results"

DEFAULT_N = {"W1": 500, "W2": 500, "W3": 100, "W4": 20}
UNITS = {"W1": "task", "W2": "task", "W3": "flow run", "W4": "flow run"}
TITLES = {
    "W1": "W1 chain",
    "W2": "W2 fan-out",
    "W3": "W3 many flows",
    "W4": "W4 retries",
}
