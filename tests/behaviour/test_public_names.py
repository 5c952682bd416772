"""Names Prefect 2.20 users import and use: the state helpers of `prefect.states`,
`quote(...).unquote()`, `Task.tags` a set, `get_client` from the top-level package, and flow
hooks run when a run enters Running (`on_running`)."""

from __future__ import annotations

import asyncio

import pytest

from executor import flow, get_client, quote, task
from executor.context import get_run_context
from executor.states import (
    Cancelled,
    Completed,
    Crashed,
    Failed,
    Paused,
    Running,
    StateGroup,
    StateType,
    Suspended,
    format_exception,
    get_state_result,
    is_state,
)

from ._util import uniq

pytestmark = pytest.mark.timeout(30)


# -- prefect.states ---------------------------------------------------------------------------
def test_is_state_tells_states_from_other_values():
    assert is_state(Completed()) and is_state(Crashed())
    assert not is_state("COMPLETED") and not is_state(StateType.COMPLETED) and not is_state(None)


def test_state_group_counts_states_by_type():
    group = StateGroup([Completed(), Failed(), Crashed(), Running(), Cancelled(), Paused()])
    assert group.total_count == 6
    assert group.fail_count == 2 and group.any_failed()
    assert group.cancelled_count == 1 and group.any_cancelled()
    assert group.paused_count == 1 and group.any_paused()
    assert (group.final_count, group.not_final_count) == (4, 2) and not group.all_final()
    assert not group.all_completed()
    assert group.type_counts[StateType.COMPLETED] == 1
    assert StateGroup([Completed(), Completed()]).all_completed()
    assert repr(StateGroup([Completed(), Failed()])) == "StateGroup<total=2, 'COMPLETED'=1, 'FAILED'=1>"
    assert StateGroup([Running()]).counts_message() == "total=1, not_final=1, 'RUNNING'=1"


def test_suspended_is_a_paused_state_that_reschedules():
    state = Suspended(timeout_seconds=60, pause_key="k")
    assert state.type is StateType.PAUSED and state.name == "Suspended"
    assert state.state_details.pause_reschedule is True and state.state_details.pause_key == "k"
    assert state.state_details.pause_timeout is not None


def test_get_state_result_and_format_exception():
    assert get_state_result(Completed(data=5)) == 5
    error = ValueError("bad")
    assert get_state_result(Failed(data=error), raise_on_failure=False) is error
    with pytest.raises(ValueError, match="bad"):
        get_state_result(Failed(data=error))
    assert format_exception(error) == "ValueError: bad"


# -- quote, Task.tags, get_client -------------------------------------------------------------
def test_quote_unquote_gives_back_the_value():
    value = {"a": [1, 2]}
    assert quote(value).unquote() is value


def test_task_tags_are_a_set():
    @task(tags=["a", "b"])
    def t():
        pass

    assert type(t.tags) is set and t.tags == {"a", "b"}
    t.tags.add("c")  # Prefect users may add tags to a task in place
    assert t.tags == {"a", "b", "c"}
    assert type(t.with_options(tags=["x"]).tags) is set


def test_get_client_is_importable_from_the_package():
    import executor

    assert "get_client" in executor.__all__

    @flow(name=uniq("client"))
    def f():
        return get_run_context().flow_run.id

    with get_client() as client:
        assert client.read_flow_run(str(f())).state.is_completed()


# -- on_running -------------------------------------------------------------------------------
def test_on_running_hooks_run_when_the_run_enters_running_before_its_body():
    seen = []

    def first(flow_, flow_run, state):
        seen.append(("hook", flow_.name, str(flow_run.id), state.type))

    async def second(flow_, flow_run, state):
        await asyncio.sleep(0)
        seen.append(("async hook", state.type))

    @flow(name=uniq("on-running"), on_running=[first, second])
    def f():
        seen.append(("body", str(get_run_context().flow_run.id)))
        return 1

    assert f() == 1
    run_id = seen[2][1]
    assert seen == [
        ("hook", f.name, run_id, StateType.RUNNING),
        ("async hook", StateType.RUNNING),
        ("body", run_id),
    ]


def test_on_running_hooks_run_once_per_run_not_per_retry_and_a_raising_hook_is_logged_only():
    calls, attempts = [], []

    def raising(*_):
        calls.append("raising")
        raise RuntimeError("hook failed")

    @flow(name=uniq("on-running-retry"), retries=2, on_running=[raising, lambda *_: calls.append("next")])
    def f():
        attempts.append(1)
        if len(attempts) < 3:
            raise ValueError("again")
        return "done"

    assert f() == "done"
    assert len(attempts) == 3
    assert calls == ["raising", "next"]
    assert f.with_options(on_running=[]).on_running == f.on_running
