"""Flow and task run names: templates (with defaults) and callables, evaluated once per run and
required to return a string."""

from __future__ import annotations

import pytest

from executor import flow, task
from executor.context import get_run_context

from ._util import uniq

pytestmark = pytest.mark.timeout(30)


# 73 ------------------------------------------------------------------------------------------
def test_73_flow_run_name_template_with_defaults(client):
    @flow(name=uniq("retry-73"), flow_run_name="hi-{foo}-{bar}")
    def f(foo="one", bar="two"):
        return get_run_context().flow_run.id

    fid = f()
    assert client.read_flow_run(str(fid)).name == "hi-one-two"


def test_73_flow_run_name_callable_is_evaluated_once_per_run(client):
    name_calls, body_calls = [], []

    def make_name():
        name_calls.append(1)
        return f"named-{len(name_calls)}"

    @flow(name=uniq("retry-73c"), flow_run_name=make_name, retries=3)
    def f():
        body_calls.append(1)
        if len(body_calls) < 4:
            raise ValueError("retry me")
        return get_run_context().flow_run.id

    fid = f()
    assert len(body_calls) == 4
    assert len(name_calls) == 1
    assert client.read_flow_run(str(fid)).name == "named-1"

    body_calls.clear()
    body_calls.extend([1, 1, 1])  # the next call succeeds at once
    f()
    assert len(name_calls) == 2


def test_73_flow_run_name_callable_must_return_a_string():
    @flow(name=uniq("retry-73t"), flow_run_name=lambda: 42)
    def f():
        return 1

    with pytest.raises(TypeError):
        f()


def test_73_task_run_name_template_and_callable(client):
    name_calls, body_calls = [], []

    def make_name():
        name_calls.append(1)
        return "custom-task-name"

    @task(task_run_name="hi-{foo}-{bar}")
    def templated(foo, bar="two"):
        return get_run_context().task_run.id

    @task(task_run_name=make_name, retries=3)
    def flaky():
        body_calls.append(1)
        if len(body_calls) < 4:
            raise ValueError("retry me")
        return get_run_context().task_run.id

    @flow(name=uniq("retry-73task"))
    def f():
        return templated("one"), flaky()

    templated_id, trid = f()
    assert client.read_task_run(str(templated_id)).name == "hi-one-two"
    assert len(body_calls) == 4
    assert len(name_calls) == 1
    assert client.read_task_run(str(trid)).name == "custom-task-name"


def test_73_task_run_name_callable_must_return_a_string():
    @task(task_run_name=lambda: 42)
    def t():
        return 1

    @flow(name=uniq("retry-73tt"))
    def f():
        return t()

    with pytest.raises(TypeError):
        f()
