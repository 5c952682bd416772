"""Configuration from CADENZA_* environment variables, read when needed (tests change them)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("CADENZA_HOME") or Path.home() / ".cadenza").expanduser()


def storage_path() -> Path:
    return Path(os.environ.get("CADENZA_LOCAL_STORAGE_PATH") or home() / "storage")


def orchestrator_address() -> str | None:
    return os.environ.get("CADENZA_ORCHESTRATOR") or None


def api_token() -> str | None:
    return os.environ.get("CADENZA_API_TOKEN") or None


def _env_bool(name: str) -> bool | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def task_default_retries() -> int:
    return int(_env_float("CADENZA_TASK_DEFAULT_RETRIES", 0))


def task_default_retry_delay() -> float:
    return _env_float("CADENZA_TASK_DEFAULT_RETRY_DELAY_SECONDS", 0.0)


def flow_default_retries() -> int:
    return int(_env_float("CADENZA_FLOW_DEFAULT_RETRIES", 0))


def flow_default_retry_delay() -> float:
    return _env_float("CADENZA_FLOW_DEFAULT_RETRY_DELAY_SECONDS", 0.0)


def tasks_refresh_cache() -> bool:
    return bool(_env_bool("CADENZA_TASKS_REFRESH_CACHE"))


def log_prints() -> bool:
    return bool(_env_bool("CADENZA_LOGGING_LOG_PRINTS"))


def persist_results_default() -> bool:
    return bool(_env_bool("CADENZA_RESULTS_PERSIST_BY_DEFAULT"))
