"""How the engine describes what a run raised for other languages (executor._exception_info)."""

from __future__ import annotations

from executor._exception_info import MAX_TRACEBACK, describe, raised_by
from executor.states import State, StateType


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


def _raise(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_a_builtin_type_is_named_plainly_and_a_users_type_with_its_module():
    assert describe(_raise(ValueError("bad"))).type == "ValueError"
    assert describe(_raise(Unprintable())).type == f"{__name__}.Unprintable"


def test_the_traceback_ends_with_the_exception_line():
    info = describe(_raise(KeyError("id")))
    assert info.traceback.startswith("Traceback (most recent call last):")
    assert "in _raise" in info.traceback and info.traceback.rstrip().endswith("KeyError: 'id'")
    assert info.message == "'id'"


def test_a_long_traceback_keeps_its_end_and_says_what_was_left_out():
    cause: BaseException | None = None
    for step in range(200):  # a long chain of causes, each printed in full
        exc = _raise(RuntimeError(f"step {step}"))
        exc.__cause__ = cause
        cause = exc
    assert cause is not None
    info = describe(cause)
    assert info.traceback.startswith("... (") and "earlier characters left out" in info.traceback
    assert len(info.traceback) < MAX_TRACEBACK + 100
    assert info.traceback.rstrip().endswith("RuntimeError: step 199")


def test_an_exception_whose_str_fails_is_still_described():
    info = describe(_raise(Unprintable()))
    assert "Unprintable" in info.message and "str() failed" in info.message


def test_the_exception_is_found_in_the_states_a_flow_returned():
    exc = ValueError("inner")
    failed = State(StateType.FAILED, data=exc)
    done = State(StateType.COMPLETED, data=1)
    assert raised_by(exc) is exc
    assert raised_by(failed) is exc
    assert raised_by([done, failed]) is exc
    assert raised_by([done]) is None
    assert raised_by({"not": "an exception"}) is None
