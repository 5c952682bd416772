"""The flow's final state, from what its body raises or returns: values, states and futures, or
None and the states of its tasks and subflows; Cancelled wins over Failed; failures reach the
top through nested subflows."""

from __future__ import annotations

import pytest

from executor import flow, task
from executor.exceptions import CancelledRun, FailedRun, PausedRun
from executor.states import Cancelled, Paused, State, StateType

from ._util import uniq

pytestmark = pytest.mark.timeout(30)


@task
def fails():
    raise ValueError("Test")


@task
def fails_too():
    raise ValueError("Test too")


@task
def succeeds():
    return "ok"


@task
def cancels():
    return Cancelled(message="cancelled on purpose")


# 43 ------------------------------------------------------------------------------------------
def test_43_flow_raising_is_failed_and_reraises():
    @flow(name=uniq("fs-43"))
    def f():
        raise ValueError("oops")

    with pytest.raises(ValueError, match="oops"):
        f()

    state = f(return_state=True)
    assert state.type == StateType.FAILED
    assert state.name == "Failed"
    assert state.message.startswith("Flow run encountered an exception.")
    assert "ValueError: oops" in state.message
    with pytest.raises(ValueError, match="oops"):
        state.result()
    assert isinstance(state.result(raise_on_failure=False), ValueError)


def test_43_flow_returning_none_without_tasks_is_completed():
    @flow(name=uniq("fs-43n"))
    def f():
        return None

    state = f(return_state=True)
    assert state.is_completed()
    assert state.result() is None
    assert f() is None


# 44 ------------------------------------------------------------------------------------------
def test_44_hand_built_failed_state_is_kept():
    @flow(name=uniq("fs-44"))
    def f():
        return State(type=StateType.FAILED, message="Test returned state", data="hello!")

    state = f(return_state=True)
    assert state.is_failed()
    assert state.message == "Test returned state"
    assert state.result(raise_on_failure=False) == "hello!"
    with pytest.raises(FailedRun, match="hello!"):
        state.result()
    with pytest.raises(FailedRun):
        f()


# 45 ------------------------------------------------------------------------------------------
def test_45_flow_returning_a_failed_task_state_fails():
    @flow(name=uniq("fs-45"))
    def f():
        return fails(return_state=True)

    state = f(return_state=True)
    assert state.is_failed()
    inner = state.result(raise_on_failure=False)
    assert isinstance(inner, State)
    assert inner.is_failed()
    assert inner.state_details.task_run_id
    with pytest.raises(ValueError, match="Test"):
        inner.result()
    with pytest.raises(ValueError, match="Test"):
        state.result()


# 46 ------------------------------------------------------------------------------------------
def test_46_none_return_with_two_failed_tasks_is_failed_with_their_states():
    @flow(name=uniq("fs-46"))
    def f():
        fails(return_state=True)
        fails_too(return_state=True)
        return None

    state = f(return_state=True)
    assert state.is_failed()
    data = state.result(raise_on_failure=False)
    assert len(data) == 2
    assert all(isinstance(s, State) and s.is_failed() for s in data)
    assert state.message == "2/2 states failed."


# 47 ------------------------------------------------------------------------------------------
def test_47_none_return_with_two_successful_tasks_is_completed():
    @flow(name=uniq("fs-47"))
    def f():
        succeeds()
        succeeds.submit()

    state = f(return_state=True)
    assert state.is_completed()
    data = state.result()
    assert len(data) == 2
    assert all(isinstance(s, State) and s.is_completed() for s in data)


# 48 ------------------------------------------------------------------------------------------
def test_48_none_return_counts_subflow_states():
    @flow(name=uniq("fs-48child"))
    def bad_child():
        raise ValueError("child failed")

    @flow(name=uniq("fs-48"))
    def parent():
        succeeds()
        bad_child(return_state=True)

    state = parent(return_state=True)
    assert state.is_failed()
    data = state.result(raise_on_failure=False)
    assert len(data) == 2
    assert data[0].is_completed()
    assert data[1].is_failed()
    assert state.message == "1/2 states failed."


# 49 ------------------------------------------------------------------------------------------
def test_49_returned_tuple_of_states_gives_k_of_n_failed():
    @flow(name=uniq("fs-49"))
    def f():
        return fails(return_state=True), fails_too(return_state=True), succeeds(return_state=True)

    state = f(return_state=True)
    assert state.is_failed()
    assert state.message == "2/3 states failed."
    data = state.result(raise_on_failure=False)
    assert isinstance(data, tuple) and len(data) == 3
    assert [s.type for s in data] == [StateType.FAILED, StateType.FAILED, StateType.COMPLETED]


def test_49_returned_futures_with_one_failure():
    @flow(name=uniq("fs-49f"))
    def f():
        return succeeds.submit(), fails.submit(), succeeds.submit()

    state = f(return_state=True)
    assert state.is_failed()
    assert state.message == "1/3 states failed."
    with pytest.raises(ValueError, match="Test"):
        state.result()


# 50 ------------------------------------------------------------------------------------------
def test_50_cancelled_wins_over_failed():
    @flow(name=uniq("fs-50"))
    def f():
        return cancels.submit(), succeeds.submit(), fails.submit()

    state = f(return_state=True)
    assert state.type == StateType.CANCELLED
    assert state.is_cancelled()
    assert state.message == "1/3 states cancelled."


# 51 ------------------------------------------------------------------------------------------
def test_51_flow_returning_paused_state():
    @flow(name=uniq("fs-51p"))
    def f():
        return Paused()

    with pytest.raises(PausedRun):
        f()
    state = f(return_state=True)
    assert state.type == StateType.PAUSED
    assert state.is_paused()
    assert not state.is_final()


def test_51_flow_returning_cancelled_state():
    @flow(name=uniq("fs-51c"))
    def f():
        return Cancelled()

    state = f(return_state=True)
    assert state.type == StateType.CANCELLED
    with pytest.raises(CancelledRun):
        f()


# 52 ------------------------------------------------------------------------------------------
def test_52_parent_returning_cancelled_subflow_state_is_cancelled():
    @flow(name=uniq("fs-52child"))
    def child():
        return cancels.submit()

    @flow(name=uniq("fs-52"))
    def parent():
        return child(return_state=True)

    state = parent(return_state=True)
    assert state.type == StateType.CANCELLED
    assert state.message == "1/1 states cancelled."


# 53 ------------------------------------------------------------------------------------------
def test_53_nested_failure_through_two_subflows():
    @flow(name=uniq("fs-53inner"))
    def inner():
        fails(return_state=True)

    @flow(name=uniq("fs-53middle"))
    def middle():
        inner(return_state=True)

    @flow(name=uniq("fs-53top"))
    def top():
        middle(return_state=True)

    state = top(return_state=True)
    assert state.is_failed()
    data = state.result(raise_on_failure=False)
    assert len(data) == 1
    assert data[0].is_failed()
    with pytest.raises(ValueError, match="Test"):
        state.result()
