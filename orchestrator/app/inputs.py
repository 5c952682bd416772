"""Gathering what a decision is fed: the time, a random draw, a ticket, and whatever the rules
on this edge declared they need (the flow run, the tag limits, the cache entry)."""

from __future__ import annotations

import itertools
import random

from ..core.inputs import NEEDS_CACHE, NEEDS_FLOW_RUN, NEEDS_LIMITS, DecisionInputs
from ..core.models import FlowRun, Proposal, TaskRun, new_id, now_utc
from ..core.policy import needs_for
from .registry import Registry


class InputGatherer:
    """Reads from the in-memory registry (which reads through to the store)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._tickets = itertools.count(1)

    def gather(self, run_kind: str, run: FlowRun | TaskRun, proposal: Proposal) -> DecisionInputs:
        needs = needs_for(run_kind, run, proposal)
        if not needs or run_kind != "task":
            return DecisionInputs(now_utc(), draw=random.random(), ticket=next(self._tickets), new_id=new_id)
        assert isinstance(run, TaskRun)
        registry = self.registry
        flow_run = limits = None
        if NEEDS_FLOW_RUN in needs and run.flow_run_id:
            flow_run = registry.read_flow_run(run.flow_run_id)
        if NEEDS_LIMITS in needs and run.tags:
            limits = registry.limits_on(run.tags)
        # The clock is read after the store (limits are read from it when replicas share it):
        # a slot freed by a commit that read saw is stamped as taken after that commit.
        now = now_utc()
        inputs = DecisionInputs(now, draw=random.random(), ticket=next(self._tickets), new_id=new_id)
        inputs.flow_run = flow_run
        inputs.limits = limits or []
        details = proposal.state.details
        if NEEDS_CACHE in needs and details.cache_key and not details.refresh_cache:
            inputs.cached = registry.lookup_cache(details.cache_key, now)
        return inputs
