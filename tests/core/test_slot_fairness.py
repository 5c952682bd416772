"""Fair hand-over of tag slots: FIFO, dead waiters, backoff, several tags."""

from __future__ import annotations

import pytest

from orchestrator.core.inputs import PolicySettings
from orchestrator.core.models import Status

from .conftest import ST, FakeContext, propose, task_in, walk


def runs(ctx, count, tags=("db",)):
    return [task_in(ctx, ST.PENDING, tags=list(tags)) for _ in range(count)]


def test_a_freed_slot_goes_to_the_oldest_waiter(ctx):
    ctx.add_limit("db", 1)
    holder, first, second = runs(ctx, 3)
    walk(ctx, holder, ST.RUNNING)
    assert propose(ctx, first, ST.RUNNING)[0].status is Status.WAIT
    ctx.tick(0.01)
    assert propose(ctx, second, ST.RUNNING)[0].status is Status.WAIT
    propose(ctx, holder, ST.COMPLETED)
    # The younger waiter asks first but the slot is kept for the older one.
    assert propose(ctx, second, ST.RUNNING)[0].status is Status.WAIT
    assert propose(ctx, first, ST.RUNNING)[0].status is Status.ACCEPT
    propose(ctx, first, ST.COMPLETED)
    assert propose(ctx, second, ST.RUNNING)[0].status is Status.ACCEPT


def test_a_newcomer_takes_a_free_slot_when_there_are_enough_for_the_waiters(ctx):
    limit = ctx.add_limit("db", 2)
    a, b, waiter, newcomer = runs(ctx, 4)
    walk(ctx, a, ST.RUNNING)
    walk(ctx, b, ST.RUNNING)
    assert propose(ctx, waiter, ST.RUNNING)[0].status is Status.WAIT
    limit.concurrency_limit = 4  # raised: two free slots, one waiter
    assert propose(ctx, newcomer, ST.RUNNING)[0].status is Status.ACCEPT
    assert propose(ctx, waiter, ST.RUNNING)[0].status is Status.ACCEPT


def test_a_waiter_that_stopped_proposing_is_dropped(ctx):
    ctx.add_limit("db", 1)
    holder, dead, alive = runs(ctx, 3)
    walk(ctx, holder, ST.RUNNING)
    propose(ctx, dead, ST.RUNNING)
    propose(ctx, alive, ST.RUNNING)
    propose(ctx, holder, ST.COMPLETED)
    assert propose(ctx, alive, ST.RUNNING)[0].status is Status.WAIT  # dead is still "ahead"
    ctx.tick(ctx.settings.slot_waiter_stale_seconds + 0.1)
    assert propose(ctx, alive, ST.RUNNING)[0].status is Status.ACCEPT
    # If the dropped run comes back it lines up again behind whoever is waiting.
    assert propose(ctx, dead, ST.RUNNING)[0].status is Status.WAIT


@pytest.mark.parametrize("moved_on", [ST.CRASHED, ST.CANCELLING])
def test_a_run_that_moves_on_leaves_the_queue(ctx, moved_on):
    limit = ctx.add_limit("db", 1)
    holder, gone, alive = runs(ctx, 3)
    walk(ctx, holder, ST.RUNNING)
    propose(ctx, gone, ST.RUNNING)
    propose(ctx, alive, ST.RUNNING)
    propose(ctx, gone, moved_on, force=True)
    assert gone.id not in limit.waiters
    propose(ctx, holder, ST.COMPLETED)
    assert propose(ctx, alive, ST.RUNNING)[0].status is Status.ACCEPT


def test_the_wait_backs_off_up_to_the_maximum():
    ctx = FakeContext(PolicySettings(slot_wait_seconds=0.1, slot_wait_max_seconds=1.0))
    ctx.add_limit("db", 1)
    holder, next_in_line, far = runs(ctx, 3)
    walk(ctx, holder, ST.RUNNING)
    head_delays, far_delays = [], []
    for _ in range(6):
        head_delays.append(propose(ctx, next_in_line, ST.RUNNING)[0].delay_seconds)
        far_delays.append(propose(ctx, far, ST.RUNNING)[0].delay_seconds)
        ctx.tick(0.1)
    # Next in line keeps the short delay, so a freed slot is not left idle.
    assert head_delays == [0.1] * 6
    assert far_delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_waiting_leaves_slots_of_other_tags_alone(ctx):
    free = ctx.add_limit("free", 5)
    ctx.add_limit("full", 1)
    holder = task_in(ctx, ST.PENDING, tags=["full"])
    walk(ctx, holder, ST.RUNNING)
    run = task_in(ctx, ST.PENDING, tags=["free", "full"])
    decision, effects = propose(ctx, run, ST.RUNNING)
    assert decision.status is Status.WAIT and "full" in decision.reason
    assert free.active_slots == set() and effects.touched_limits == set()


def test_several_tags_agree_on_who_is_first(ctx):
    # Both waiters need both tags; the older must get both, never one each (a deadlock).
    a, b = ctx.add_limit("a", 1), ctx.add_limit("b", 1)
    hold_a = task_in(ctx, ST.PENDING, tags=["a"])
    hold_b = task_in(ctx, ST.PENDING, tags=["b"])
    walk(ctx, hold_a, ST.RUNNING)
    walk(ctx, hold_b, ST.RUNNING)
    older, younger = runs(ctx, 2, tags=("a", "b"))
    propose(ctx, older, ST.RUNNING)
    propose(ctx, younger, ST.RUNNING)
    propose(ctx, hold_a, ST.COMPLETED)
    assert propose(ctx, younger, ST.RUNNING)[0].status is Status.WAIT
    assert a.active_slots == set()  # kept free for the older waiter
    propose(ctx, hold_b, ST.COMPLETED)
    assert propose(ctx, younger, ST.RUNNING)[0].status is Status.WAIT
    assert propose(ctx, older, ST.RUNNING)[0].status is Status.ACCEPT
    assert a.active_slots == b.active_slots == {older.id}


def test_a_queue_joined_late_keeps_the_order_of_first_waits(ctx):
    a = ctx.add_limit("a", 1)
    holder = task_in(ctx, ST.PENDING, tags=["a", "b"])
    walk(ctx, holder, ST.RUNNING)
    older, younger = runs(ctx, 2, tags=("a", "b"))
    propose(ctx, older, ST.RUNNING)
    propose(ctx, younger, ST.RUNNING)
    b = ctx.add_limit("b", 1)  # created while they wait; younger joins first
    propose(ctx, younger, ST.RUNNING)
    propose(ctx, older, ST.RUNNING)
    assert list(b.waiters) == [older.id, younger.id] == list(a.waiters)
