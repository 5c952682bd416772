"""The `cadenza` command's own settings: where the services are, and how to reach them.

Commands that start a service validate that service's settings instead (see services.py)."""

from __future__ import annotations

from cadenza.settings import EXECUTOR_ADDRESS, ORCHESTRATOR_ADDRESS, Address, load
from executor.settings import ClientSettings


class CliSettings(ClientSettings):
    executor: Address | None = None


def settings() -> CliSettings:
    """The validated settings; raises `cadenza.settings.SettingsError` naming a bad variable."""
    return load(CliSettings)


def orchestrator_address() -> str:
    return settings().orchestrator or ORCHESTRATOR_ADDRESS


def executor_address() -> str:
    return settings().executor or EXECUTOR_ADDRESS


def api_token() -> str:
    return settings().api_token
