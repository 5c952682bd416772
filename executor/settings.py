"""The engine's settings: `CADENZA_*` variables read when first needed (tests change them
between runs) and validated as a whole, so one bad value fails the first read of any of them
with a `SettingsError` naming it, before a run is created."""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, SecretBytes

from cadenza.settings import (
    Accepts,
    Address,
    CadenzaSettings,
    Count,
    Flag,
    LogLevel,
    PositiveSeconds,
    Seconds,
    UserPath,
    load,
)
from cadenza.settings import SettingsError as SettingsError  # re-exported: what a bad value raises

Threads = Annotated[int, Field(ge=0), Accepts("a whole number >= 0 (0 picks one from the CPU count)")]

SIGNING_KEY_MIN_BYTES = 32
_HEX = re.compile(r"[0-9a-fA-F]+")


def _key_bytes(value: object) -> object:
    """Hex when the text is only hex digits, else base64 (standard or URL-safe, padding optional)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if _HEX.fullmatch(text) and len(text) % 2 == 0:
            key = bytes.fromhex(text)
        else:
            text = text.replace("-", "+").replace("_", "/")
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("neither hex nor base64") from None
    if len(key) < SIGNING_KEY_MIN_BYTES:
        raise ValueError(f"shorter than {SIGNING_KEY_MIN_BYTES} bytes")
    return key


# SecretBytes: the key never shows in a repr or a settings error.
SigningKey = Annotated[
    SecretBytes,
    BeforeValidator(_key_bytes),
    Accepts(f"{SIGNING_KEY_MIN_BYTES}+ random bytes as hex or base64", secret=True),
]


class ClientSettings(CadenzaSettings):
    """Read by every client of the orchestrator: the engine, the executor service, the CLI."""

    # Unset: the engine starts an embedded orchestrator (executor.embedded); the executor
    # service and the CLI look at cadenza.settings.ORCHESTRATOR_ADDRESS.
    orchestrator: Address | None = None


class EngineSettings(ClientSettings):
    local_storage_path: UserPath | None = None  # unset: storage/ under CADENZA_HOME
    # Unset: a key made on first use in CADENZA_HOME (executor._result_files).
    result_signing_key: SigningKey | None = None
    task_default_retries: Count = 0
    task_default_retry_delay_seconds: Seconds = 0.0
    flow_default_retries: Count = 0
    flow_default_retry_delay_seconds: Seconds = 0.0
    tasks_refresh_cache: Flag = False
    logging_log_prints: Flag = False
    results_persist_by_default: Flag = False
    task_threads: Threads = 0
    logging_level: LogLevel = "INFO"
    # The lease of a run a process holds: renewed by heartbeats several times a lease; the
    # orchestrator ends the run Crashed when it lapses (the process is gone).
    lease_seconds: PositiveSeconds = 10.0
    # How long the engine keeps trying an orchestrator it cannot reach (at the first call, and
    # again whenever the connection is lost during a run) before it gives up.
    orchestrator_retry_seconds: PositiveSeconds = 15.0
    # The embedded default's orchestrator runs on the engine's own event loop and the engine
    # calls it directly (executor/_wire/in_process.py); false: in a thread of its own, called
    # over gRPC on loopback like a separate one.
    in_process: Flag = True


def current() -> EngineSettings:
    return load(EngineSettings)


def home() -> Path:
    return current().home


def storage_path() -> Path:
    settings = current()
    return settings.local_storage_path or settings.home / "storage"


def orchestrator_address() -> str | None:
    return current().orchestrator


def api_token() -> str | None:
    return current().api_token or None


def task_default_retries() -> int:
    return current().task_default_retries


def task_default_retry_delay() -> float:
    return current().task_default_retry_delay_seconds


def flow_default_retries() -> int:
    return current().flow_default_retries


def flow_default_retry_delay() -> float:
    return current().flow_default_retry_delay_seconds


def tasks_refresh_cache() -> bool:
    return current().tasks_refresh_cache


def log_prints() -> bool:
    return current().logging_log_prints


def persist_results_default() -> bool:
    return current().results_persist_by_default


def task_threads() -> int:
    """Threads that run sync tasks: CADENZA_TASK_THREADS, or 8 per CPU (at most 64) for 0."""
    return current().task_threads or min(64, (os.cpu_count() or 2) * 8)


def logging_level() -> str:
    """The level of the `cadenza` loggers in a flow's process, upper case (CADENZA_LOGGING_LEVEL)."""
    return current().logging_level


def lease_seconds() -> float:
    return current().lease_seconds


def orchestrator_retry_seconds() -> float:
    return current().orchestrator_retry_seconds


def in_process() -> bool:
    return current().in_process
