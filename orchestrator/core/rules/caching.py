"""Task result caching: a run about to start with a cache key that has a live entry is handed
the cached Completed state instead of running; a Completed state with a cache key is recorded."""

from __future__ import annotations

from ..inputs import NEEDS_CACHE
from ..models import CacheEntry, StateType
from ..transition import Transition
from .base import ALL_TYPES, Rule


class CacheRetrieval(Rule):
    """First in the task policy, so a cache hit is served even when slots are full."""

    FROM = ALL_TYPES
    TO = frozenset({StateType.RUNNING})
    NEEDS = frozenset({NEEDS_CACHE})

    def before(self, t: Transition) -> None:
        details = t.proposed.details
        if not details.cache_key or details.refresh_cache:
            return
        cached = t.inputs.cached
        if cached is not None:
            copy = cached.fresh_copy(t.inputs.new_id(), t.now, name="Cached")
            t.reject(copy, "Retrieved state from cache")


class CacheInsertion(Rule):
    FROM = ALL_TYPES
    TO = frozenset({StateType.COMPLETED})

    def after(self, t: Transition) -> None:
        state = t.proposed
        if state.details.cache_key:
            t.effects.cache_inserts.append(
                CacheEntry(state.details.cache_key, state.details.cache_expiration, state)
            )
