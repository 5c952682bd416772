"""The `cadenza` command's own settings: where the services are, and how to reach them.

Commands that start a service validate that service's settings instead (see services.py)."""

from __future__ import annotations

import logging

from cadenza.settings import EXECUTOR_ADDRESS, ORCHESTRATOR_ADDRESS, Address, load
from executor.settings import ClientSettings

log = logging.getLogger("cadenza.cli")


class CliSettings(ClientSettings):
    executor: Address | None = None


def settings() -> CliSettings:
    """The validated settings; raises `cadenza.settings.SettingsError` naming a bad variable."""
    return load(CliSettings)


def orchestrator_address() -> str:
    """CADENZA_ORCHESTRATOR; else the orchestrator serving the database under CADENZA_HOME;
    else the default port on this machine."""
    configured = settings()
    if configured.orchestrator:
        return configured.orchestrator
    from orchestrator import running_orchestrator

    running = running_orchestrator(str(configured.home / "cadenza.db"))
    if running:
        log.debug(
            "using the orchestrator at %s, which serves the database under %s", running, configured.home
        )
        return running
    return ORCHESTRATOR_ADDRESS


def executor_address() -> str:
    return settings().executor or EXECUTOR_ADDRESS


def api_token() -> str:
    return settings().api_token
