"""Tag concurrency limits for task runs: a run may only enter RUNNING while every limited tag
it carries has a free slot, and a limit of 0 can never be satisfied (ABORT, not a deadlock).

A slot is tied to the validated state, not to the proposal: it is held only while the run is
RUNNING or CANCELLING and is given back on every other validated state, forced ones too.
Instead of Prefect's fixed 30 s WAIT, waiting runs are queued fairly (see slot_queue.py) and
told to come back after a short delay that backs off the longer they wait.
"""

from __future__ import annotations

from ..inputs import NEEDS_LIMITS
from ..models import StateType
from ..transition import Transition
from . import slot_queue
from .base import ALL_TYPES, Rule

_HOLDS_SLOT = frozenset({StateType.RUNNING, StateType.CANCELLING})


class SecureTaskConcurrencySlots(Rule):
    FROM = ALL_TYPES
    TO = frozenset({StateType.RUNNING})
    NEEDS = frozenset({NEEDS_LIMITS})

    def before(self, t: Transition) -> None:
        limits = t.limits()
        if not limits:
            return
        for limit in limits:
            if limit.concurrency_limit <= 0:
                t.abort(
                    f'The concurrency limit on tag "{limit.tag}" is {limit.concurrency_limit} '
                    "and will deadlock if the task tries to run again."
                )
                return
        run_id = t.run.id
        # A run already holding a tag's slot (re-entering RUNNING) never takes a second one.
        needed = [limit for limit in limits if run_id not in limit.active_slots]
        if not needed:
            return
        slot_queue.forget_gone(needed, run_id)
        stale = slot_queue.stale_after(t.settings)
        blocked, next_in_line = [], True
        for limit in needed:
            ahead = slot_queue.live_ahead(limit, run_id, t.now, stale)
            if ahead >= limit.concurrency_limit - len(limit.active_slots):
                blocked.append(limit.tag)
                next_in_line = next_in_line and ahead < limit.concurrency_limit
        if blocked:
            waiter = slot_queue.join(needed, run_id, t.now, t.inputs.ticket)
            delay = slot_queue.wait_delay(waiter, t.settings, next_in_line)
            tags = ", ".join(blocked)
            t.wait(delay, f"Concurrency limit for the {tags} tag(s) has been reached")
            return
        for limit in needed:
            limit.active_slots.add(run_id)
            t.effects.touched_limits.add(limit.tag)
        slot_queue.leave(limits, run_id)
        t.memo[self.name] = needed

    def cleanup(self, t: Transition) -> None:
        # Fizzled (a later rule nullified or swapped the RUNNING): give back what we took.
        for limit in t.memo.get(self.name, ()):
            limit.active_slots.discard(t.run.id)
            t.effects.touched_limits.discard(limit.tag)


class ReleaseTaskConcurrencySlots(Rule):
    UNIVERSAL = True  # whatever the edge, and under force too
    NEEDS = frozenset({NEEDS_LIMITS})

    def after(self, t: Transition) -> None:
        limits, run_id = t.limits(), t.run.id
        slot_queue.leave(limits, run_id)  # whatever its new state, it is no longer waiting
        if t.proposed.type in _HOLDS_SLOT:
            return
        for limit in limits:
            if run_id in limit.active_slots:
                limit.active_slots.discard(run_id)
                t.effects.touched_limits.add(limit.tag)
