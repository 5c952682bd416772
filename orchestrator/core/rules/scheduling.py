"""Scheduled times: carried onto PENDING, and waited for before RUNNING."""

from __future__ import annotations

from ..models import StateType
from ..transition import Transition
from .base import Rule


class CopyScheduledTime(Rule):
    FROM = frozenset({StateType.SCHEDULED})
    TO = frozenset({StateType.PENDING})

    def before(self, t: Transition) -> None:
        if t.proposed.details.scheduled_time is None:
            t.proposed.details.scheduled_time = t.current.details.scheduled_time


class WaitForScheduledTime(Rule):
    """Runs start by the orchestrator's clock; this is also how retry delays happen."""

    FROM = frozenset({StateType.SCHEDULED, StateType.PENDING})
    TO = frozenset({StateType.RUNNING})

    def before(self, t: Transition) -> None:
        scheduled = t.current.details.scheduled_time
        if scheduled is None:
            return
        delay = (scheduled - t.now).total_seconds()
        if delay > 0:
            t.wait(delay, f"Scheduled time is {delay:.3f} seconds in the future.")
