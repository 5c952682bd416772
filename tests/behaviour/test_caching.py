"""Caching: cache keys and what the key function is given, expiration, refresh, and cached
results within and across flow runs, including the task_input_hash key. Every test uses its own
cache keys: the db is session-wide."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from executor import flow, task
from executor.context import TaskRunContext, get_run_context
from executor.tasks import task_input_hash

from ._util import uniq

pytestmark = pytest.mark.timeout(30)


def constant_key(key):
    return lambda context, parameters: key


def run_calls(t, calls):
    """Call t once per args tuple inside one flow; return [(state name, result)]."""

    @flow(name=uniq("cache-host"))
    def host():
        out = []
        for args in calls:
            state = t(*args, return_state=True)
            out.append((state.name, state.result()))
        return out

    return host()


# 79 ------------------------------------------------------------------------------------------
def test_79_no_cache_key_fn_means_no_caching():
    calls = []

    @task
    def t(x):
        calls.append(x)
        return x

    assert run_calls(t, [(1,), (1,)]) == [("Completed", 1), ("Completed", 1)]
    assert calls == [1, 1]


# 80 ------------------------------------------------------------------------------------------
def test_80_constant_key_gives_cached_first_result_even_for_other_args():
    calls = []

    @task(cache_key_fn=constant_key(uniq("cache-80")))
    def t(x):
        calls.append(x)
        return x

    assert run_calls(t, [(1,), (2,)]) == [("Completed", 1), ("Cached", 1)]
    assert calls == [1]


def test_80_cache_holds_across_flow_runs_and_for_many_calls():
    calls = []

    @task(cache_key_fn=constant_key(uniq("cache-80x")))
    def t(x):
        calls.append(x)
        return {"first": x}

    assert run_calls(t, [(1,)]) == [("Completed", {"first": 1})]
    # A second flow run: the cache lives in the orchestrator, not in the flow run.
    assert run_calls(t, [(i,) for i in range(2, 7)]) == [("Cached", {"first": 1})] * 5
    assert calls == [1]


# 81 ------------------------------------------------------------------------------------------
def test_81_a_new_key_each_time_never_hits():
    prefix = uniq("cache-81")
    counter = iter(range(100))

    @task(cache_key_fn=lambda context, parameters: f"{prefix}-{next(counter)}")
    def t(x):
        return x

    assert run_calls(t, [(1,), (1,), (1,)]) == [("Completed", 1)] * 3


# 82 ------------------------------------------------------------------------------------------
def test_82_key_fn_gets_context_and_bound_resolved_parameters():
    prefix = uniq("cache-82")
    seen = []

    def key_fn(context, parameters):
        seen.append((str(context.task_run.flow_run_id), dict(parameters)))
        return f"{prefix}-{parameters['a']}-{parameters['b']}-{parameters['c']}"

    @task
    def upstream():
        return 1

    @task(cache_key_fn=key_fn)
    def foo(a, b, c=3):
        return a + b + c

    @flow(name=uniq("cache-82f"))
    def f():
        flow_id = str(get_run_context().flow_run.id)
        states = [
            foo(upstream.submit(), 2, 3, return_state=True),
            foo(1, b=2, return_state=True),
            foo(c=3, a=1, b=2, return_state=True),
        ]
        return flow_id, [(s.name, s.result()) for s in states]

    flow_id, out = f()
    assert out == [("Completed", 6), ("Cached", 6), ("Cached", 6)]
    assert len(seen) == 3
    assert all(fid == flow_id for fid, _ in seen)
    # The future was resolved to its value and the defaults were bound.
    assert [params for _, params in seen] == [{"a": 1, "b": 2, "c": 3}] * 3


# 83 ------------------------------------------------------------------------------------------
def test_83_unexpired_cache_hits():
    @task(cache_key_fn=constant_key(uniq("cache-83a")), cache_expiration=timedelta(seconds=5))
    def t(x):
        return x

    assert run_calls(t, [(1,), (2,)]) == [("Completed", 1), ("Cached", 1)]


def test_83_expired_cache_misses():
    @task(cache_key_fn=constant_key(uniq("cache-83b")), cache_expiration=timedelta(seconds=-5))
    def t(x):
        return x

    assert run_calls(t, [(1,), (2,)]) == [("Completed", 1), ("Completed", 2)]


# 84 ------------------------------------------------------------------------------------------
def test_84_refresh_cache_ignores_the_cache_but_writes_a_new_entry():
    key = uniq("cache-84")

    @task(cache_key_fn=constant_key(key))
    def t(x):
        return x

    refreshing = t.with_options(refresh_cache=True)

    @flow(name=uniq("cache-84f"))
    def f():
        first = t(1, return_state=True)
        refreshed = refreshing(2, return_state=True)
        after = t(3, return_state=True)
        return [(s.name, s.result()) for s in (first, refreshed, after)]

    assert f() == [("Completed", 1), ("Completed", 2), ("Cached", 2)]


def test_84_global_refresh_cache_setting(monkeypatch):
    # Prefect's PREFECT_TASKS_REFRESH_CACHE is CADENZA_TASKS_REFRESH_CACHE here.
    monkeypatch.setenv("CADENZA_TASKS_REFRESH_CACHE", "true")
    key = uniq("cache-84s")
    opted_out_key = uniq("cache-84o")

    @task(cache_key_fn=constant_key(key))
    def refreshed(x):
        return x

    @task(cache_key_fn=constant_key(opted_out_key), refresh_cache=False)
    def opted_out(x):
        return x

    assert run_calls(refreshed, [(1,), (2,)]) == [("Completed", 1), ("Completed", 2)]
    assert run_calls(opted_out, [(1,), (2,)]) == [("Completed", 1), ("Cached", 1)]


# 85 ------------------------------------------------------------------------------------------
def test_85_task_input_hash_within_and_across_runs():
    salt = uniq("cache-85")  # keeps this test's inputs apart from earlier sessions' entries
    calls = []

    @task(cache_key_fn=task_input_hash)
    def t(salt, x):
        calls.append(x)
        return x * 10

    assert run_calls(t, [(salt, 1), (salt, 1), (salt, 2)]) == [
        ("Completed", 10), ("Cached", 10), ("Completed", 20),
    ]  # fmt: skip
    assert run_calls(t, [(salt, 1), (salt, 2), (salt, 3)]) == [
        ("Cached", 10), ("Cached", 20), ("Completed", 30),
    ]  # fmt: skip
    assert calls == [1, 2, 3]


def test_85_task_input_hash_covers_the_function_code():
    salt = uniq("cache-85code")

    def make_first():
        @task(name="same-name", cache_key_fn=task_input_hash)
        def compute(salt, x):
            return x + 1

        return compute

    def make_second():
        @task(name="same-name", cache_key_fn=task_input_hash)
        def compute(salt, x):
            return x + 2

        return compute

    assert run_calls(make_first(), [(salt, 1)]) == [("Completed", 2)]
    assert run_calls(make_second(), [(salt, 1)]) == [("Completed", 3)]


def double_commented(x):
    # Doubles its input.
    return x * 2


def double_uncommented(x):
    return x * 2


def triple(x):
    return x * 3


def test_85_task_input_hash_reads_the_bytecode_not_the_source_text():
    """Prefect 2.20 hashes the task key, the function's bytecode and the arguments: an edit of
    comments alone keeps the key (for the same task key), a change of behaviour does not."""

    def key(fn, task_key="double-key", x=1):
        t = task(fn)
        t.task_key = task_key  # the same task, as its key stays across an edit of its text
        return task_input_hash(TaskRunContext(t, None, {"x": x}, None, False, None), {"x": x})

    assert key(double_commented) == key(double_uncommented)
    assert key(double_commented) != key(triple)
    assert key(double_commented) != key(double_commented, task_key="other-key")
    assert key(double_commented) != key(double_commented, x=2)


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Opaque:
    def __init__(self, value):
        self.value = value


@pytest.mark.parametrize(
    "make_value",
    [
        pytest.param(lambda: b"some-bytes\x00\xff", id="bytes"),
        pytest.param(lambda: Point(1, 2), id="dataclass"),
        pytest.param(lambda: {"nested": [Point(3, 4), b"x"]}, id="nested"),
        pytest.param(lambda: Opaque(5), id="plain-object"),
    ],
)
def test_85_task_input_hash_is_stable_for_objects_and_bytes(make_value):
    salt = uniq("cache-85obj")
    calls = []

    @task(cache_key_fn=task_input_hash)
    def t(salt, value):
        calls.append(1)
        return "computed"

    # Equal but distinct objects, in two separate flow runs.
    assert run_calls(t, [(salt, make_value())]) == [("Completed", "computed")]
    assert run_calls(t, [(salt, make_value())]) == [("Cached", "computed")]
    assert calls == [1]
