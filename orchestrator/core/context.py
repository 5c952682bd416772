"""What the decision core may look at beyond the run itself, and the settings of its rules.

The servicer implements `PolicyContext` over the in-memory registry and the store; tests
implement it with plain dicts. The core never performs I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from .models import CacheEntry, ConcurrencyLimit, FlowRun, State


@dataclass(slots=True)
class PolicySettings:
    # First delay handed to a run waiting for a tag concurrency slot (seconds).
    slot_wait_seconds: float = 0.05
    # Upper bound of that delay as a run keeps waiting (seconds).
    slot_wait_max_seconds: float = 1.0
    # A queued run that has not proposed again for this long is presumed gone and loses its
    # place, so a dead waiter never holds a freed slot back (at least 3x the max delay).
    slot_waiter_stale_seconds: float = 5.0


@dataclass(slots=True)
class Effects:
    """Changes a decision makes outside the run, for the store to commit with it."""

    cache_inserts: list[CacheEntry] = field(default_factory=list)
    touched_limits: set[str] = field(default_factory=set)  # tags whose active_slots changed


class PolicyContext(Protocol):
    settings: PolicySettings

    def now(self) -> datetime: ...

    def read_flow_run(self, flow_run_id: str) -> FlowRun | None: ...

    def lookup_cache(self, cache_key: str, now: datetime) -> State | None:
        """The newest cached Completed state for the key that has not expired, or None."""
        ...

    def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit | None:
        """The live limit object; rules mutate `active_slots` and record the tag in effects."""
        ...
