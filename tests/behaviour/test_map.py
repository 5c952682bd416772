"""map: a future (or state) per item; what is iterated (lists, tuples, generators, futures and
states of lists) and what is passed whole (non-iterables, strings, unmapped); quote and
allow_failure per item; the errors for nothing iterable and unequal lengths; defaults and
keyword iterables; order under each task runner; upstream futures recorded."""

from __future__ import annotations

import time

import pytest

from executor import allow_failure, flow, quote, task, unmapped
from executor.exceptions import MappingLengthMismatch, MappingMissingIterable
from executor.states import State
from executor.task_runners import ConcurrentTaskRunner, SequentialTaskRunner

from ._util import all_input_ids, uniq

pytestmark = pytest.mark.timeout(30)


@task
def add_one(x):
    return x + 1


@task
def add_together(x, y):
    return x + y


@task
def make_list():
    return [1, 2, 3]


def results(futures):
    return [f.result() for f in futures]


# 35 ------------------------------------------------------------------------------------------
def test_35_map_returns_a_list_of_futures():
    seen = {}

    @flow(name=uniq("map-35"))
    def f():
        futures = add_one.map([1, 2, 3])
        seen["type"] = type(futures)
        seen["has_ids"] = all(fut.task_run_id for fut in futures)
        return results(futures)

    assert f() == [2, 3, 4]
    assert seen["type"] is list
    assert seen["has_ids"]


def test_35_map_with_return_state_gives_states():
    @flow(name=uniq("map-35s"))
    def f():
        states = add_one.map([1, 2, 3], return_state=True)
        assert all(isinstance(s, State) for s in states)
        return [s.result() for s in states]

    assert f() == [2, 3, 4]


# 36 ------------------------------------------------------------------------------------------
def test_36_map_accepts_tuple_and_generator():
    @flow(name=uniq("map-36"))
    def f():
        from_tuple = results(add_one.map((1, 2, 3)))
        from_gen = results(add_one.map(x for x in [1, 2, 3]))
        return from_tuple, from_gen

    assert f() == ([2, 3, 4], [2, 3, 4])


def test_36_map_accepts_future_and_state_of_a_list():
    @flow(name=uniq("map-36f"))
    def f():
        from_future = results(add_one.map(make_list.submit()))
        from_state = results(add_one.map(make_list(return_state=True)))
        return from_future, from_state

    assert f() == ([2, 3, 4], [2, 3, 4])


def test_36_map_accepts_subflow_state_of_a_list():
    @flow(name=uniq("map-36child"))
    def child():
        return [1, 2, 3]

    @flow(name=uniq("map-36"))
    def parent():
        return results(add_one.map(child(return_state=True)))

    assert parent() == [2, 3, 4]


# 37 ------------------------------------------------------------------------------------------
def test_37_non_iterables_are_repeated():
    @flow(name=uniq("map-37"))
    def f():
        return results(add_together.map([1, 2, 3], 5))

    assert f() == [6, 7, 8]


def test_37_strings_are_not_iterated():
    @flow(name=uniq("map-37s"))
    def f():
        return results(add_together.map(["a", "b", "c"], "test"))

    assert f() == ["atest", "btest", "ctest"]


def test_37_unmapped_is_repeated_whatever_its_length():
    @task
    def total(x, y):
        return x + sum(y)

    @flow(name=uniq("map-37u"))
    def f():
        return results(total.map([1, 2, 3], unmapped([4, 5, 6, 7])))

    assert f() == [23, 24, 25]


# 38 ------------------------------------------------------------------------------------------
def test_38_quote_is_unwrapped_then_rewrapped_per_item():
    @flow(name=uniq("map-38"))
    def f():
        a = results(add_one.map(quote([1, 2, 3])))
        b = results(add_together.map(quote(1), [1, 2, 3]))
        return a, b

    assert f() == ([2, 3, 4], [2, 3, 4])


def test_38_allow_failure_is_unwrapped_then_rewrapped_per_item():
    @flow(name=uniq("map-38a"))
    def f():
        return results(add_one.map(allow_failure([1, 2, 3])))

    assert f() == [2, 3, 4]


# 39 ------------------------------------------------------------------------------------------
def test_39_nothing_iterable_raises_mapping_missing_iterable():
    @flow(name=uniq("map-39a"))
    def f():
        return add_together.map(5, 6)

    with pytest.raises(MappingMissingIterable):
        f()
    assert f(return_state=True).is_failed()


def test_39_length_mismatch_raises():
    @flow(name=uniq("map-39b"))
    def f():
        return add_together.map([1, 2, 3], [1, 2, 3, 4])

    with pytest.raises(MappingLengthMismatch):
        f()
    assert f(return_state=True).is_failed()


# 40 ------------------------------------------------------------------------------------------
def test_40_defaults_are_not_mapped():
    @task
    def add_some(x, y=[1, 4]):  # noqa: B006 - the default is what is tested
        return x + sum(y)

    @flow(name=uniq("map-40"))
    def f():
        return results(add_some.map([1, 2, 3]))

    assert f() == [6, 7, 8]


def test_40_iterables_in_kwargs_are_mapped():
    @task
    def add_kwargs(**kwargs):
        return sum(kwargs.values())

    @flow(name=uniq("map-40k"))
    def f():
        return results(add_kwargs.map(a=[1, 2, 3], b=[10, 20, 30]))

    assert f() == [11, 22, 33]


# 41 ------------------------------------------------------------------------------------------
@task
def record_after(x, delay, log):
    time.sleep(delay)
    log.append(x)
    return x


def test_41_sequential_runner_runs_mapped_children_in_order():
    log: list[int] = []

    @flow(name=uniq("map-41s"), task_runner=SequentialTaskRunner())
    def f():
        futures = record_after.map([0, 1, 2], [0.15, 0.05, 0.0], unmapped(log))
        return results(futures)

    started = time.monotonic()
    assert f() == [0, 1, 2]
    assert log == [0, 1, 2]
    assert time.monotonic() - started >= 0.2  # one after another


def test_41_concurrent_runner_runs_mapped_children_together():
    log: list[int] = []

    @flow(name=uniq("map-41c"), task_runner=ConcurrentTaskRunner())
    def f():
        futures = record_after.map([0, 1, 2], [0.6, 0.3, 0.0], unmapped(log))
        return results(futures)

    assert f() == [0, 1, 2]  # results keep input order ...
    assert log == [2, 1, 0]  # ... but the children ran side by side and finished in their own time


# 42 ------------------------------------------------------------------------------------------
def test_42_mapped_children_record_upstream_futures(client):
    @task
    def identity(x):
        return x

    @task
    def combine(x, y, z):
        return x + y + sum(z)

    ids_ = {}

    @flow(name=uniq("map-42"))
    def f():
        mapped = [identity.submit(i) for i in (1, 2, 3)]
        static = identity.submit(10)
        nested = identity.submit(100)
        children = combine.map(mapped, static, unmapped([nested]))
        ids_.update(
            mapped=[m.task_run_id for m in mapped],
            static=static.task_run_id,
            nested=nested.task_run_id,
            children=[c.task_run_id for c in children],
        )
        return results(children)

    assert f() == [111, 112, 113]
    for i, child_id in enumerate(ids_["children"]):
        run = client.read_task_run(str(child_id))
        recorded = all_input_ids(run)
        assert str(ids_["mapped"][i]) in recorded
        assert str(ids_["static"]) in recorded
        assert str(ids_["nested"]) in recorded
        others = {str(m) for j, m in enumerate(ids_["mapped"]) if j != i}
        assert not (others & recorded)
