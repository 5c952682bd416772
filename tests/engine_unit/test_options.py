"""FlowOptions and TaskOptions are the one list of options: the decorators, the constructors
and with_options accept exactly their fields, with their defaults and checks."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from executor import Flow, Task, flow, task
from executor.flows import FlowOptions
from executor.task_runners import ConcurrentTaskRunner, SequentialTaskRunner
from executor.tasks import TaskOptions


def add_one(x):
    """Adds one."""
    return x + 1


def fields(options_type) -> list[str]:
    return [f.name for f in dataclasses.fields(options_type)]


def keyword_names(fn) -> list[str]:
    return [p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY]


@pytest.mark.parametrize(
    "decorator, cls, options_type", [(task, Task, TaskOptions), (flow, Flow, FlowOptions)]
)
def test_signatures_show_exactly_the_options_with_their_defaults(decorator, cls, options_type):
    assert keyword_names(decorator) == keyword_names(cls) == fields(options_type)
    assert keyword_names(cls.with_options) == fields(options_type)
    params = inspect.signature(decorator).parameters
    for f in dataclasses.fields(options_type):
        assert params[f.name].default == f.default
    first = next(iter(params.values()))
    assert first.kind is first.POSITIONAL_ONLY and first.default is None


@pytest.mark.parametrize("decorator, cls", [(task, Task), (flow, Flow)])
def test_every_entry_point_accepts_every_option_and_names_an_unknown_one(decorator, cls):
    made = decorator(add_one)
    every = {name: getattr(made.options, name) for name in fields(type(made.options))}
    given = {name: value for name, value in every.items() if value != []}  # empty hook lists are refused
    assert decorator(**given)(add_one).options == made.options
    assert cls(add_one, **given).options == made.options
    assert made.with_options(**every).options == made.options
    with pytest.raises(TypeError, match="'retires'"):
        decorator(retires=1)
    with pytest.raises(TypeError, match="'retires'"):
        decorator(add_one, retires=1)
    with pytest.raises(TypeError, match="'retires'"):
        cls(add_one, retires=1)
    with pytest.raises(TypeError, match="'retires'"):
        made.with_options(retires=1)
    with pytest.raises(TypeError):
        decorator(add_one, "positional option")


def test_task_call_styles_give_the_same_task_and_attributes_users_read():
    @task
    def bare(x):
        return x

    @task()
    def empty_call(x):
        return x

    styled = task(add_one, name="inc", tags=["a", "b"], retries=2, timeout_seconds=3, on_failure=[print])
    assert (bare.name, empty_call.name) == ("bare", "empty_call")
    assert bare.tags == frozenset() and bare.retries is None and bare.timeout_seconds is None
    assert bare.cache_result_in_memory is True and bare.on_completion == [] and bare.on_failure == []
    assert styled.name == "inc" and styled.tags == frozenset({"a", "b"}) and styled.retries == 2
    assert styled.timeout_seconds == 3.0 and isinstance(styled.timeout_seconds, float)
    assert styled.on_failure == [print] and styled.description == "Adds one."
    assert Task(fn=add_one, name="kw").name == "kw"


def test_with_options_changes_what_it_is_given_and_keeps_the_rest():
    original = task(add_one, name="inc", tags=["a"], retries=1)
    changed = original.with_options(retries=3, description="three tries")
    assert (changed.name, changed.tags, changed.retries, changed.description) == (
        "inc",
        frozenset({"a"}),
        3,
        "three tries",
    )
    assert (original.retries, original.description) == (1, "Adds one.")
    assert changed.fn is original.fn and changed.task_key == original.task_key
    assert original.with_options(name=None).name == "add_one"  # None means the default again


def test_flow_defaults_and_normalised_values():
    plain = flow(add_one)
    assert plain.name == "add-one" and plain.description == "Adds one." and plain.version
    assert plain.task_runner == ConcurrentTaskRunner() and plain.should_validate_parameters is True
    assert plain.on_crashed == [] and plain.timeout_seconds is None
    by_class = flow(add_one, task_runner=SequentialTaskRunner, timeout_seconds=2)
    assert isinstance(by_class.task_runner, SequentialTaskRunner) and by_class.timeout_seconds == 2.0
    runner = SequentialTaskRunner()
    assert flow(task_runner=runner)(add_one).task_runner is runner
    assert by_class.with_options(name="other").task_runner == SequentialTaskRunner()
    assert flow(add_one, version="v1", name="named").with_options(retries=2).version == "v1"


def test_checks_live_in_the_options_and_apply_everywhere():
    with pytest.raises(ValueError, match="retry_jitter_factor"):
        task(retry_jitter_factor=-1)
    with pytest.raises(ValueError, match="retry_jitter_factor"):
        task(add_one).with_options(retry_jitter_factor=-0.5)
    with pytest.raises(ValueError, match="retry_jitter_factor"):
        TaskOptions(retry_jitter_factor=-1)
    with pytest.raises(TypeError, match="task_runner"):
        flow(add_one, task_runner="sequential")
    with pytest.raises(TypeError, match="task_runner"):
        FlowOptions(task_runner=42)
    with pytest.raises(TypeError, match="callable"):
        Task("not a function")
