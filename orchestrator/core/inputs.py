"""What a decision is fed, and what it hands back besides the decision itself.

The core performs no I/O and reads no clock, random source or id generator of its own: the
application layer gathers `DecisionInputs` before deciding (from memory, or from a store that
is the authority) and applies the `Effects` in the same commit as the decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .models import CacheEntry, ConcurrencyLimit, FlowRun, Proposal, State, new_id

# What rules may ask to be gathered for them (see `Rule.NEEDS`).
NEEDS_FLOW_RUN = "flow_run"
NEEDS_LIMITS = "limits"
NEEDS_CACHE = "cache"


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
class DecisionInputs:
    """Everything one decision may look at beyond the run and the proposal."""

    now: datetime
    # The flow run a task run belongs to (None: not asked for, none, or unknown).
    flow_run: FlowRun | None = None
    # The live concurrency limits on the run's tags, once each; rules change `active_slots`.
    limits: list[ConcurrencyLimit] = field(default_factory=list)
    # The newest unexpired cached state for the proposal's cache key, if one was looked up.
    cached: State | None = None
    # A uniform draw in [0, 1), for retry jitter.
    draw: float = 0.5
    # A number that grows with every decision: first-come order among slot waiters.
    ticket: int = 0
    # Ids for the states and keys a decision creates.
    new_id: Callable[[], str] = new_id


@dataclass(slots=True)
class FollowUp:
    """A decision the same commit must also make on another run (e.g. a subflow's tracker)."""

    run_kind: str  # "flow" or "task"
    run_id: str
    proposal: Proposal


@dataclass(slots=True)
class Effects:
    """Changes a decision makes outside the run, for the application layer to commit with it."""

    cache_inserts: list[CacheEntry] = field(default_factory=list)
    touched_limits: set[str] = field(default_factory=set)  # tags whose active_slots changed
    follow_ups: list[FollowUp] = field(default_factory=list)
