"""Executor service settings, from `CADENZA_*` environment variables."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from cadenza.serving import env_float


@dataclass
class ExecutorConfig:
    host: str = "127.0.0.1"
    port: int = 4301
    orchestrator: str = "127.0.0.1:4300"
    api_token: str = ""
    # Module prefixes whose `module:function` entrypoints may be submitted directly.
    allowed_entrypoints: list[str] = field(default_factory=list)
    max_concurrent_runs: int = 4
    lease_seconds: float = 10.0
    cancel_grace_seconds: float = 10.0
    worker_id: str = ""
    run_worker: bool = True

    def __post_init__(self) -> None:
        if not self.worker_id:
            self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    @classmethod
    def from_env(cls) -> "ExecutorConfig":
        env = os.environ
        port = env.get("CADENZA_EXECUTOR_PORT", "4301")
        if not port.isdigit():
            raise SystemExit(f"CADENZA_EXECUTOR_PORT={port!r} is not a port number")
        allowed = [p.strip() for p in env.get("CADENZA_ALLOWED_ENTRYPOINTS", "").split(",") if p.strip()]
        return cls(
            host=env.get("CADENZA_EXECUTOR_HOST", "127.0.0.1"),
            port=int(port),
            orchestrator=env.get("CADENZA_ORCHESTRATOR", "") or "127.0.0.1:4300",
            api_token=env.get("CADENZA_API_TOKEN", ""),
            allowed_entrypoints=allowed,
            max_concurrent_runs=int(env_float("CADENZA_EXECUTOR_MAX_RUNS", 4)),
            lease_seconds=env_float("CADENZA_LEASE_SECONDS", 10.0),
            cancel_grace_seconds=env_float("CADENZA_CANCEL_GRACE_SECONDS", 10.0),
        )

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.api_token}"),) if self.api_token else ()
