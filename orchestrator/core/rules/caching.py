"""Task result caching: hand back a cached result instead of running, and record new ones
(reference 2.3 #1, #10)."""

from __future__ import annotations

from ..models import CacheEntry, StateType
from ..transition import Transition
from .base import ALL_TYPES, Rule


class CacheRetrieval(Rule):
    """First in the task policy, so a cache hit is served even when slots are full."""

    FROM = ALL_TYPES
    TO = frozenset({StateType.RUNNING})

    def before(self, t: Transition) -> None:
        details = t.proposed.details
        if not details.cache_key or details.refresh_cache:
            return
        cached = t.ctx.lookup_cache(details.cache_key, t.now)
        if cached is not None:
            t.reject(cached.fresh_copy(name="Cached"), "Retrieved state from cache")


class CacheInsertion(Rule):
    FROM = ALL_TYPES
    TO = frozenset({StateType.COMPLETED})

    def after(self, t: Transition) -> None:
        state = t.proposed
        if state.details.cache_key:
            t.effects.cache_inserts.append(
                CacheEntry(state.details.cache_key, state.details.cache_expiration, state)
            )
