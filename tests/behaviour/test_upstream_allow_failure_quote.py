"""allow_failure and quote: allow_failure hands a failed upstream's exception to the task (around
a list, in map, as data to a subflow); quote passes a value untouched, its upstreams unchecked."""

from __future__ import annotations

import pytest

from executor import allow_failure, flow, quote, task
from executor.states import Pending, State

from ._upstream import fails, identity
from ._util import uniq

pytestmark = pytest.mark.timeout(30)


# 28 ------------------------------------------------------------------------------------------
def test_28_allow_failure_passes_the_exception():
    @task
    def bar(x):
        return x

    @flow(name=uniq("up-28"))
    def f():
        a = fails.submit()
        return bar.submit(allow_failure(a)).result()

    exc = f()
    assert isinstance(exc, ValueError)
    assert str(exc) == "boom"


# 29 ------------------------------------------------------------------------------------------
def test_29_allow_failure_around_a_list():
    @task
    def bar(x):
        return x

    @flow(name=uniq("up-29"))
    def f():
        a = fails.submit()
        return bar(allow_failure([a, 1, 2]))

    out = f()
    assert isinstance(out[0], ValueError)
    assert out[1:] == [1, 2]


# 30 ------------------------------------------------------------------------------------------
def test_30_map_over_allow_failure_of_mapped_futures():
    @task
    def fails_on_two(x):
        if x == 2:
            raise ValueError("two")
        return x

    @flow(name=uniq("up-30"))
    def f():
        upstream = fails_on_two.map([1, 2, 3])
        return identity.map(allow_failure(upstream), return_state=True)

    states = f()
    assert len(states) == 3
    assert all(s.is_completed() for s in states)
    assert states[0].result() == 1
    assert isinstance(states[1].result(), ValueError)
    assert states[2].result() == 3


# 31 ------------------------------------------------------------------------------------------
def test_31_map_with_a_static_allow_failure_argument():
    @task
    def pair(x, y):
        return x, y

    @flow(name=uniq("up-31"))
    def f():
        a = fails.submit()
        return [fut.result() for fut in pair.map([1, 2, 3], allow_failure(a))]

    out = f()
    assert [x for x, _ in out] == [1, 2, 3]
    assert all(isinstance(y, ValueError) for _, y in out)


# 32 ------------------------------------------------------------------------------------------
def test_32_quote_passes_the_value_unwrapped():
    @task
    def bar(x):
        return x

    @flow(name=uniq("up-32"))
    def f():
        return bar(quote(1))

    assert f() == 1


def test_32_quoted_incomplete_state_skips_the_upstream_check():
    seen = []

    @task
    def bar(x):
        seen.append(x)
        return "ran"

    @flow(name=uniq("up-32s"))
    def f():
        return bar(quote(Pending()))

    assert f() == "ran"
    assert len(seen) == 1
    assert isinstance(seen[0], State) and seen[0].is_pending()


def test_32_quoted_failed_future_passes_untouched():
    seen = []

    @task
    def bar(x):
        seen.append(x)
        return "ran"

    @flow(name=uniq("up-32f"))
    def f():
        a = fails.submit()
        a.wait()
        return bar(quote(a))

    assert f() == "ran"
    assert hasattr(seen[0], "task_run_id")  # the future itself, not a value


# 33 ------------------------------------------------------------------------------------------
def test_33_subflow_gets_allow_failure_exception_as_data():
    @flow(name=uniq("up-33child"))
    def child(x):
        return x

    @flow(name=uniq("up-33"))
    def parent():
        a = fails.submit()
        return child(allow_failure(a))

    state = parent(return_state=True)
    assert state.is_completed()
    result = state.result()
    assert isinstance(result, ValueError)
    assert str(result) == "boom"
