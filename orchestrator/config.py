"""Orchestrator settings, from `CADENZA_*` environment variables with sensible defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cadenza.serving import env_float

from .core.inputs import PolicySettings


def cadenza_home() -> Path:
    return Path(os.environ.get("CADENZA_HOME", "~/.cadenza")).expanduser()


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 4300
    db_path: str = ""
    # "NORMAL" survives a killed process; "FULL" also survives power loss, at a cost per commit.
    db_synchronous: str = "NORMAL"
    api_token: str = ""
    shutdown_grace_seconds: float = 5.0
    pause_check_interval_seconds: float = 0.5
    # A Scheduled run this far past due is marked "Late" (Prefect's MarkLateRuns).
    late_runs_after_seconds: float = 5.0
    policy: PolicySettings = field(default_factory=PolicySettings)

    @classmethod
    def from_env(cls) -> ServerConfig:
        env = os.environ
        port = env.get("CADENZA_ORCHESTRATOR_PORT", "4300")
        if not port.isdigit():
            raise SystemExit(f"CADENZA_ORCHESTRATOR_PORT={port!r} is not a port number")
        return cls(
            host=env.get("CADENZA_ORCHESTRATOR_HOST", "127.0.0.1"),
            port=int(port),
            db_path=env.get("CADENZA_ORCHESTRATOR_DB", "") or str(cadenza_home() / "cadenza.db"),
            db_synchronous=env.get("CADENZA_DB_SYNCHRONOUS", "NORMAL").upper(),
            api_token=env.get("CADENZA_API_TOKEN", ""),
            late_runs_after_seconds=env_float("CADENZA_LATE_RUNS_AFTER_SECONDS", 5.0),
            policy=PolicySettings(
                slot_wait_seconds=env_float("CADENZA_SLOT_WAIT_SECONDS", 0.05),
                slot_wait_max_seconds=env_float("CADENZA_SLOT_WAIT_MAX_SECONDS", 1.0),
            ),
        )
