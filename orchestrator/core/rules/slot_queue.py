"""The fairness queue for tag concurrency slots (in memory, on each ConcurrencyLimit).

A run that must wait joins the queue of every limited tag it still needs, with ONE shared
SlotWaiter. Every queue is kept in `seq` order (order of first wait), so all queues agree on
who is older: the oldest live waiter is first in each of its queues and gets each slot as it
frees, so it always makes progress, whatever mix of tags the waiters have.
A freed slot is kept for the waiters ahead: a newcomer may take one only when there are more
free slots than live waiters ahead of it. A waiter that stopped proposing (its process died)
is dropped after `slot_waiter_stale_seconds`, so it never holds a slot back for long.
"""

from __future__ import annotations

from datetime import datetime

from ..inputs import PolicySettings
from ..models import ConcurrencyLimit, SlotWaiter


def stale_after(settings: PolicySettings) -> float:
    # Never shorter than a few of the longest delays we hand out, or live waiters would drop.
    return max(settings.slot_waiter_stale_seconds, 3 * settings.slot_wait_max_seconds)


def forget_gone(limits: list[ConcurrencyLimit], run_id: str) -> None:
    """Drop the run's own entries whose waiter was dropped elsewhere; it lines up again."""
    for limit in limits:
        waiter = limit.waiters.get(run_id)
        if waiter is not None and waiter.gone:
            del limit.waiters[run_id]


def live_ahead(limit: ConcurrencyLimit, run_id: str, now: datetime, stale: float) -> int:
    """Live waiters before `run_id` in this tag's queue (all of them if it is not queued),
    counted up to the limit itself; dead entries met on the way are dropped."""
    bound, count, dead = max(limit.concurrency_limit, 1), 0, []
    for waiter_id, waiter in limit.waiters.items():
        if waiter_id == run_id:
            break
        if waiter.gone or (now - waiter.last_seen).total_seconds() > stale:
            waiter.gone = True  # shared: it leaves the queues of its other tags too
            dead.append(waiter_id)
            continue
        count += 1
        if count >= bound:
            break
    for waiter_id in dead:
        del limit.waiters[waiter_id]
    return count


def join(limits: list[ConcurrencyLimit], run_id: str, now: datetime, ticket: int) -> SlotWaiter:
    """Queue the run (or keep its place) in every given tag; count one more wait. `ticket`
    grows with every decision, so it places a newcomer after everyone queued before it."""
    waiter = next((w for lim in limits if (w := lim.waiters.get(run_id)) is not None), None)
    if waiter is None:
        waiter = SlotWaiter(run_id, ticket, since=now, last_seen=now)
    for limit in limits:
        queue = limit.waiters
        if queue.get(run_id) is waiter:
            continue
        last = next(reversed(queue.values()), None)
        queue[run_id] = waiter
        if last is not None and last.seq > waiter.seq:
            # An old waiter joining a queue it was not in (a limit created meanwhile).
            limit.waiters = dict(sorted(queue.items(), key=lambda item: item[1].seq))
    waiter.last_seen = now
    waiter.waits += 1
    return waiter


def leave(limits: list[ConcurrencyLimit], run_id: str) -> None:
    for limit in limits:
        waiter = limit.waiters.pop(run_id, None)
        if waiter is not None:
            waiter.gone = True


def wait_delay(waiter: SlotWaiter, settings: PolicySettings, next_in_line: bool) -> float:
    """Short for the runs next in line (a freed slot is not left idle for long); for the
    others it doubles with every wait, up to the maximum."""
    base = settings.slot_wait_seconds
    if next_in_line:
        return base
    cap = max(settings.slot_wait_max_seconds, base)
    return min(cap, base * 2 ** min(waiter.waits - 1, 30))
