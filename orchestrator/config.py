"""Orchestrator settings: `OrchestratorSettings` reads and validates the `CADENZA_*` variables
the service reads; `ServerConfig` is what the server runs with (tests build it directly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

from cadenza.settings import (
    LOCALHOST,
    ORCHESTRATOR_PORT,
    Accepts,
    CadenzaSettings,
    Flag,
    Host,
    Port,
    PositiveSeconds,
    Seconds,
    ServingSettings,
    load,
    one_of,
    upper_case,
)

from .core.inputs import PolicySettings
from .store.postgres_url import EXPECTED, is_postgres_url, parse_postgres_url

# SQLite's own names; the value goes into a PRAGMA, so nothing else may pass.
Synchronous = Annotated[
    str,
    BeforeValidator(upper_case),
    one_of(("OFF", "NORMAL", "FULL", "EXTRA")),
    Accepts("NORMAL or FULL (also OFF, EXTRA; any case)"),
]
_POLICY = PolicySettings()


def database_location(value: str) -> str:
    """A SQLite path (~ expanded) or a postgresql:// URL with host, user and database; the
    ValueError never quotes the password."""
    value = value.strip()
    if is_postgres_url(value):
        parse_postgres_url(value)
        return value
    if "://" in value:
        raise ValueError("a URL that is not postgresql://")
    return str(Path(value).expanduser())


Database = Annotated[str, AfterValidator(database_location), Accepts(EXPECTED)]


class OrchestratorSettings(ServingSettings):
    orchestrator_host: Host = LOCALHOST
    orchestrator_port: Port = ORCHESTRATOR_PORT
    orchestrator_db: Database | None = None  # unset: cadenza.db under CADENZA_HOME
    db_synchronous: Synchronous = "NORMAL"
    late_runs_after_seconds: Seconds = 5.0
    lease_takeover_grace_seconds: Seconds = 2.0
    orchestrator_standby: Flag = False
    slot_wait_seconds: PositiveSeconds = _POLICY.slot_wait_seconds
    slot_wait_max_seconds: PositiveSeconds = _POLICY.slot_wait_max_seconds


def settings() -> OrchestratorSettings:
    """The validated settings; raises `cadenza.settings.SettingsError` naming a bad variable."""
    return load(OrchestratorSettings)


def cadenza_home() -> Path:
    return load(CadenzaSettings).home


@dataclass
class ServerConfig:
    host: str = LOCALHOST
    port: int = ORCHESTRATOR_PORT
    database: str = ""  # a SQLite file or a postgresql:// URL; empty: cadenza.db under home
    # "NORMAL" survives a killed process; "FULL" also survives power loss, at a cost per commit.
    db_synchronous: str = "NORMAL"
    api_token: str = ""
    shutdown_grace_seconds: float = 5.0
    pause_check_interval_seconds: float = 0.5
    # A Scheduled run this far past due is marked "Late" (Prefect's MarkLateRuns).
    late_runs_after_seconds: float = 5.0
    # How long after a lease lapsed its run is taken away (its process stops itself first).
    lease_takeover_grace_seconds: float = 2.0
    # Wait for the database's serving orchestrator to stop, then take over (instead of refusing).
    standby: bool = False
    policy: PolicySettings = field(default_factory=PolicySettings)

    @classmethod
    def from_env(cls) -> ServerConfig:
        env = settings()
        return cls(
            host=env.orchestrator_host,
            port=env.orchestrator_port,
            database=env.orchestrator_db or str(env.home / "cadenza.db"),
            db_synchronous=env.db_synchronous,
            api_token=env.api_token,
            late_runs_after_seconds=env.late_runs_after_seconds,
            lease_takeover_grace_seconds=env.lease_takeover_grace_seconds,
            standby=env.orchestrator_standby,
            policy=PolicySettings(
                slot_wait_seconds=env.slot_wait_seconds, slot_wait_max_seconds=env.slot_wait_max_seconds
            ),
        )
