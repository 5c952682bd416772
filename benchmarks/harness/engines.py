"""The engines under test, and the environment a workload process gets on each."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .baseline import Baseline, import_path
from .catalog import ROOT
from .processes import clean_env


@dataclass
class Engine:
    key: (
        str  # cadenza-service | cadenza-embedded | baseline-service | baseline-embedded | prefect2 | prefect3
    )
    label: str
    python: Path
    peer: bool = False
    version: str = ""
    code: Path | None = None  # a baseline's worktree; None: the current checkout

    @property
    def cadenza(self) -> bool:
        return self.key.startswith(("cadenza-", "baseline-"))

    @property
    def baseline(self) -> bool:
        return self.code is not None

    @property
    def mode(self) -> str:
        """service | embedded for Cadenza, now or at the baseline."""
        return self.key.rsplit("-", 1)[-1] if self.cadenza else ""

    @property
    def service(self) -> bool:
        """Runs against its own `orchestrator serve` process."""
        return self.key.endswith("-service")


def cadenza_engines() -> list[Engine]:
    py = Path(sys.executable)
    return [
        Engine("cadenza-service", "Cadenza (service)", py),
        Engine("cadenza-embedded", "Cadenza (embedded)", py),
    ]


def baseline_engines(baseline: Baseline) -> list[Engine]:
    """Cadenza at the baseline, in both modes, on this venv's interpreter and dependencies."""
    py = Path(sys.executable)
    return [
        Engine(
            f"baseline-{mode}",
            f"Baseline {baseline.short} ({mode})",
            py,
            version=baseline.commit,
            code=baseline.root,
        )
        for mode in ("service", "embedded")
    ]


PREFECT_LABELS = {"prefect2": "Prefect 2.20", "prefect3": "Prefect 3.9"}


def prefect_engines(keys: list[str]) -> list[Engine]:
    out = []
    for key in keys:
        if key not in PREFECT_LABELS:
            raise SystemExit(f"unknown peer {key!r}: choose among {', '.join(PREFECT_LABELS)}")
        label = PREFECT_LABELS[key]
        py = ROOT / ".bench" / key / "bin" / "python"
        if not py.exists():
            raise SystemExit(f"{py} is missing: run `make bench-peer`, which creates .bench/{key}")
        version = subprocess.run(
            [str(py), "-c", "import importlib.metadata as m; print(m.version('prefect'))"],
            capture_output=True,
            text=True,
            cwd=tempfile.gettempdir(),
            env=clean_env(),
        ).stdout.strip()
        out.append(Engine(key, f"Prefect {version or label[8:]}", py, peer=True, version=version))
    return out


def engine_env(engine: Engine) -> dict[str, str]:
    """The clean environment of any process of `engine`; a baseline's packages come first."""
    env = clean_env()
    if engine.code is not None:
        env["PYTHONPATH"] = import_path(engine.code)
    return env


def workload_env(engine: Engine, workdir: Path) -> dict[str, str]:
    """The environment of one workload process on `engine`, with a fresh home under `workdir`
    (service mode adds CADENZA_ORCHESTRATOR once its orchestrator is up)."""
    env = engine_env(engine)
    if engine.cadenza:
        env["BENCH_ENGINE"] = "cadenza"
        env["CADENZA_HOME"] = str(workdir / "home")
        return env
    env["BENCH_ENGINE"] = "prefect"
    env["PREFECT_HOME"] = str(workdir / "prefect-home")
    # Prefect's ephemeral default: no API URL, a temporary server Prefect starts itself.
    env["PREFECT_SERVER_ALLOW_EPHEMERAL_MODE"] = "true"
    # Prefect 3 gives its ephemeral server 20 s to start; a busy 2-core box can exceed that.
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    # No telemetry from a benchmark machine (it only affects the server's start-up ping).
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["DO_NOT_TRACK"] = "1"
    return env
