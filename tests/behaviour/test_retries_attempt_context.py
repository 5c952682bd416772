"""Each retry attempt of a task runs with its own TaskRunContext (Prefect 2.20 builds a fresh
context, with a fresh copy of the task run, for every attempt): a context or task run kept from
an earlier attempt still shows that attempt's run count and state."""

from __future__ import annotations

import pytest

from executor import task
from executor.context import get_run_context

from ._retrying import run_task_in_flow

pytestmark = pytest.mark.timeout(30)


def test_each_attempt_keeps_its_own_run_count():
    contexts = []

    @task(retries=2)
    def flaky():
        contexts.append(get_run_context())
        if len(contexts) < 3:
            raise ValueError("not yet")
        return "done"

    state, _ = run_task_in_flow(flaky)
    assert state.result() == "done"
    assert len({id(ctx) for ctx in contexts}) == 3
    assert [ctx.task_run.run_count for ctx in contexts] == [1, 2, 3]
    assert [ctx.task_run.state.name for ctx in contexts] == ["Running", "Retrying", "Retrying"]


def test_task_run_kept_from_an_attempt_is_not_changed_by_later_ones():
    runs = []
    hook_saw = []

    def remember(tsk, task_run, state):
        hook_saw.append((task_run.run_count, state.name))

    @task(retries=3, on_failure=[remember])
    def flaky():
        runs.append(get_run_context().task_run)
        raise ValueError("always")

    state, _ = run_task_in_flow(flaky)
    assert state.is_failed()
    assert [run.run_count for run in runs] == [1, 2, 3, 4]
    assert len({run.id for run in runs}) == 1
    assert hook_saw == [(4, "Failed")]  # the hook sees the last attempt's run
