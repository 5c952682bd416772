"""Executor service settings: `ExecutorServiceSettings` reads and validates the `CADENZA_*`
variables of the service, and those of the engine its flow-run processes inherit, so a bad
value stops the service at start instead of failing every run; `ExecutorConfig` is what the
service runs with (tests build it directly)."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from cadenza.settings import (
    EXECUTOR_PORT,
    LOCALHOST,
    ORCHESTRATOR_ADDRESS,
    Host,
    Port,
    PositiveCount,
    Seconds,
    ServingSettings,
    load,
)
from executor._allowlist import DEFAULT_ENTRIES, AllowlistSettings, EntrypointAllowlist
from executor.settings import EngineSettings


class ExecutorServiceSettings(EngineSettings, ServingSettings, AllowlistSettings):
    executor_host: Host = LOCALHOST
    executor_port: Port = EXECUTOR_PORT
    executor_max_runs: PositiveCount = 4
    cancel_grace_seconds: Seconds = 10.0


def settings() -> ExecutorServiceSettings:
    """The validated settings; raises `cadenza.settings.SettingsError` naming a bad variable."""
    return load(ExecutorServiceSettings)


@dataclass
class ExecutorConfig:
    host: str = LOCALHOST
    port: int = EXECUTOR_PORT
    orchestrator: str = ORCHESTRATOR_ADDRESS
    api_token: str = ""
    # The code this executor may load, whichever way a run reaches it: one object, shared by
    # the servicer, its flow catalog and the worker (default: the working directory).
    allowlist: EntrypointAllowlist = field(
        default_factory=lambda: EntrypointAllowlist.from_entries(DEFAULT_ENTRIES)
    )
    max_concurrent_runs: int = 4
    lease_seconds: float = 10.0
    cancel_grace_seconds: float = 10.0
    worker_id: str = ""
    run_worker: bool = True

    def __post_init__(self) -> None:
        if not self.worker_id:
            self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    @classmethod
    def from_env(cls) -> ExecutorConfig:
        env = settings()
        return cls(
            host=env.executor_host,
            port=env.executor_port,
            orchestrator=env.orchestrator or ORCHESTRATOR_ADDRESS,
            api_token=env.api_token,
            allowlist=EntrypointAllowlist.from_entries(env.allowed_entrypoints),
            max_concurrent_runs=env.executor_max_runs,
            lease_seconds=env.lease_seconds,
            cancel_grace_seconds=env.cancel_grace_seconds,
        )

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.api_token}"),) if self.api_token else ()
