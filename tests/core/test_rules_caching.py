"""CacheRetrieval and CacheInsertion."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.core.models import ResultKind, Status

from .conftest import ST, propose, state, task_in


def complete_with_key(ctx, key, expiration=None):
    run = task_in(ctx, ST.RUNNING, run_count=1)
    decision, effects = propose(
        ctx, run, state(ST.COMPLETED, data=ResultKind.PERSISTED, cache_key=key, cache_expiration=expiration)
    )
    return run, effects


def test_completed_state_with_a_key_is_inserted(ctx):
    expiry = ctx.clock + timedelta(minutes=5)
    run, effects = complete_with_key(ctx, "k", expiry)
    [entry] = effects.cache_inserts
    assert (entry.key, entry.expiration) == ("k", expiry)
    assert entry.state is run.state


def test_completed_state_without_a_key_is_not_inserted(ctx):
    run = task_in(ctx, ST.RUNNING, run_count=1)
    assert propose(ctx, run, ST.COMPLETED)[1].cache_inserts == []


def test_a_hit_hands_back_a_cached_copy(ctx):
    first, _ = complete_with_key(ctx, "k")
    run = task_in(ctx, ST.PENDING)
    decision, effects = propose(ctx, run, state(ST.RUNNING, cache_key="k"))
    assert decision.status is Status.REJECT and not decision.nullified
    cached = run.state
    assert (cached.type, cached.name) == (ST.COMPLETED, "Cached")
    assert cached.id != first.state.id and cached.data == first.state.data
    assert cached.details.task_run_id == run.id  # it is this run's state now
    assert effects.cache_inserts == []  # a cached copy is not cached again
    assert run.run_count == 0 and run.start_time is None


def test_refresh_cache_runs_anyway(ctx):
    complete_with_key(ctx, "k")
    run = task_in(ctx, ST.PENDING)
    decision, _ = propose(ctx, run, state(ST.RUNNING, cache_key="k", refresh_cache=True))
    assert decision.status is Status.ACCEPT


def test_an_expired_entry_is_a_miss(ctx):
    complete_with_key(ctx, "k", ctx.clock + timedelta(seconds=5))
    ctx.tick(6)
    run = task_in(ctx, ST.PENDING)
    assert propose(ctx, run, state(ST.RUNNING, cache_key="k"))[0].status is Status.ACCEPT


def test_a_hit_is_served_even_when_slots_are_full(ctx):
    complete_with_key(ctx, "k")
    limit = ctx.add_limit("db", 1)
    limit.active_slots.add("someone-else")
    run = task_in(ctx, ST.PENDING, tags=["db"])
    decision, _ = propose(ctx, run, state(ST.RUNNING, cache_key="k"))
    assert decision.status is Status.REJECT and run.state.name == "Cached"
    assert limit.active_slots == {"someone-else"}
