"""Options checked when a flow or task is defined, raised as Prefect 2.20 raises them: the same
exception types and messages, before any run starts."""

from __future__ import annotations

import pytest

from executor import Flow, Task, flow, task
from executor.exceptions import InvalidNameError

pytestmark = pytest.mark.timeout(30)


def hook(*_):
    pass


def body():
    return 1


# -- hooks ------------------------------------------------------------------------------------
@pytest.mark.parametrize("hook_name", ["on_completion", "on_failure", "on_cancellation", "on_crashed"])
def test_flow_hooks_empty_list_is_refused(hook_name):
    with pytest.raises(ValueError, match=f"Empty list passed for '{hook_name}'"):
        flow(body, **{hook_name: []})


@pytest.mark.parametrize("hook_name", ["on_completion", "on_failure"])
def test_task_hooks_empty_list_is_refused(hook_name):
    with pytest.raises(ValueError, match=f"Empty list passed for '{hook_name}'"):
        task(body, **{hook_name: []})


def test_with_options_given_an_empty_list_of_hooks_keeps_the_hooks():
    assert flow(body, on_completion=[hook]).with_options(on_completion=[]).on_completion == [hook]
    assert task(body, on_failure=[hook]).with_options(on_failure=[]).on_failure == [hook]


def test_a_hook_that_is_not_callable_is_refused():
    with pytest.raises(TypeError, match="Expected callables in 'on_failure'; got str instead"):

        @flow(on_failure=[hook, "not a hook"])
        def f():
            pass

    with pytest.raises(TypeError, match="Expected callables in 'on_completion'; got int instead"):
        Task(body, on_completion=[1])
    assert flow(body, on_completion=(hook,)).on_completion == [hook]  # any iterable of callables


def test_a_bare_function_instead_of_a_list_of_hooks_says_how_to_give_them():
    with pytest.raises(TypeError) as caught:
        flow(body, on_crashed=hook)
    assert str(caught.value) == (
        "Expected iterable for 'on_crashed'; got function instead. Please provide a list of hooks to "
        "'on_crashed':\n\n@flow(on_crashed=[hook1, hook2])\ndef my_flow():\n\tpass"
    )
    with pytest.raises(TypeError, match="Expected iterable for 'on_failure'; got function instead"):
        task(body, on_failure=hook)


# -- retry_condition_fn, run names ------------------------------------------------------------
def test_a_retry_condition_fn_that_is_not_callable_is_refused():
    with pytest.raises(TypeError, match="Expected `retry_condition_fn` to be callable, got str instead."):
        task(body, retry_condition_fn="always")


def test_a_run_name_neither_string_nor_callable_is_refused():
    with pytest.raises(TypeError, match="Expected string or callable for 'flow_run_name'; got int instead."):
        flow(body, flow_run_name=42)
    with pytest.raises(TypeError, match="Expected string or callable for 'task_run_name'; got list instead."):
        task(body, task_run_name=["a"])
    with pytest.raises(TypeError, match="'task_run_name'"):
        task(body).with_options(task_run_name=3.5)


# -- flow names -------------------------------------------------------------------------------
@pytest.mark.parametrize("char", ["/", "%", "&", "<", ">"])
def test_a_flow_name_with_a_banned_character_is_refused(char):
    name = f"my{char}flow"
    with pytest.raises(InvalidNameError, match="contains an invalid character") as caught:
        flow(body, name=name)
    assert isinstance(caught.value, ValueError)  # Prefect's InvalidNameError is a ValueError
    assert repr(name) in str(caught.value)
    with pytest.raises(InvalidNameError):
        Flow(body).with_options(name=name)
    assert flow(body, name="my flow: v2 (ok) #1").name == "my flow: v2 (ok) #1"


def test_a_flow_name_that_is_not_a_string_is_refused_with_a_hint():
    def get_name():
        return "x"

    with pytest.raises(TypeError, match="Perhaps you meant to call it"):
        flow(body, name=get_name)


# -- retry delays -----------------------------------------------------------------------------
def test_more_than_50_retry_delays_are_refused():
    with pytest.raises(ValueError, match="Can not configure more than 50 retry delays per task."):
        task(body, retries=51, retry_delay_seconds=[1] * 51)
    assert task(body, retries=50, retry_delay_seconds=[1] * 50).retry_delay_seconds == [1] * 50


def test_a_callable_giving_more_than_50_delays_is_refused():
    with pytest.raises(ValueError, match="more than 50 retry delays"):
        task(body, retries=60, retry_delay_seconds=lambda retries: [0] * retries)


@pytest.mark.parametrize("delay", ["5s", {"seconds": 5}, [1, "2"]])
def test_task_retry_delay_of_the_wrong_type_is_refused(delay):
    with pytest.raises(ValueError, match="retry_delay_seconds"):
        task(body, retries=2, retry_delay_seconds=delay)


def test_flow_retry_delay_of_the_wrong_type_is_refused():
    with pytest.raises(ValueError, match="retry_delay_seconds"):
        flow(body, retries=1, retry_delay_seconds="soon")
    assert flow(body, retries=1, retry_delay_seconds=2).retry_delay_seconds == 2
