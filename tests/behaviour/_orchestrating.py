"""Helpers shared by the orchestration modules (test_orchestration_*.py)."""

from __future__ import annotations

from datetime import UTC, datetime


def now():
    return datetime.now(UTC)
