"""The loops async task bodies run on (executor._runtime.LoopPool): a body gets an idle loop or
a new one, so blocking bodies do not share a loop, up to the pool's size; past it, bodies share
the least busy loop, so a large fan-out does not start a thread per task."""

from __future__ import annotations

from executor._runtime import LoopPool


def test_busy_loops_are_not_shared_until_the_pool_is_full():
    pool = LoopPool("test-loop", size=2)
    first = pool.acquire()
    second = pool.acquire()
    assert first is not second
    third = pool.acquire()  # full: shares one of the two
    assert third in (first, second)


def test_an_ended_bodys_loop_is_lent_again():
    pool = LoopPool("test-loop", size=4)
    first = pool.acquire()
    pool.release(first)
    assert pool.acquire() is first
    other = pool.acquire()  # the first is busy again: a new loop, there is room
    assert other is not first
