"""States of flow and task runs, as the engine and its users see them (Prefect 2's model)."""

from __future__ import annotations

import asyncio
import datetime as _dt
import enum
import uuid
from dataclasses import dataclass, replace
from typing import Any

from executor.context import FlowRunContext, TaskRunContext
from executor.exceptions import (
    CancelledRun,
    CrashedRun,
    FailedRun,
    MissingResult,
    PausedRun,
    UnfinishedRun,
)

# Marks "no in-memory value": the result must come from the state's ResultRef. Pickled by
# name, so a state sent to another process (a Dask worker) still has no value there.
_UNSET: Any = type("_Unset", (), {"__repr__": lambda self: "<unset>", "__reduce__": lambda self: "_UNSET"})()


class StateType(str, enum.Enum):
    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLED = "CANCELLED"
    CANCELLING = "CANCELLING"
    PAUSED = "PAUSED"

    def __str__(self) -> str:
        return self.value


TERMINAL_STATES = frozenset({StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED})


def now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


@dataclass(slots=True)
class StateDetails:
    flow_run_id: str | None = None
    task_run_id: str | None = None
    child_flow_run_id: str | None = None
    scheduled_time: _dt.datetime | None = None
    cache_key: str | None = None
    cache_expiration: _dt.datetime | None = None
    refresh_cache: bool = False
    pause_timeout: _dt.datetime | None = None
    pause_reschedule: bool = False
    pause_key: str | None = None
    retriable: bool | None = None
    transition_id: str | None = None
    untrackable_result: bool = False


class State:
    """A run's state. `data` is the in-memory value when this process produced it; otherwise
    the value is loaded through `result_ref` (see executor.results)."""

    __slots__ = ("type", "name", "message", "timestamp", "state_details", "_data", "result_ref", "id")

    def __init__(
        self,
        type: StateType | str,
        name: str | None = None,
        message: str | None = None,
        data: Any = _UNSET,
        state_details: StateDetails | None = None,
        timestamp: _dt.datetime | None = None,
        id: str | None = None,
        result_ref: Any = None,
    ) -> None:
        self.type = StateType(type)
        self.name = name or self.type.value.title()
        self.message = message
        self._data = data
        self.state_details = state_details if state_details is not None else StateDetails()
        self.timestamp = timestamp
        self.id = id
        self.result_ref = result_ref

    # -- Prefect-compatible predicates ------------------------------------------------------
    def is_scheduled(self) -> bool:
        return self.type is StateType.SCHEDULED

    def is_pending(self) -> bool:
        return self.type is StateType.PENDING

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_completed(self) -> bool:
        return self.type is StateType.COMPLETED

    def is_failed(self) -> bool:
        return self.type is StateType.FAILED

    def is_crashed(self) -> bool:
        return self.type is StateType.CRASHED

    def is_cancelled(self) -> bool:
        return self.type is StateType.CANCELLED

    def is_cancelling(self) -> bool:
        return self.type is StateType.CANCELLING

    def is_paused(self) -> bool:
        return self.type is StateType.PAUSED

    def is_final(self) -> bool:
        return self.type in TERMINAL_STATES

    # -- data and results ---------------------------------------------------------------------
    @property
    def data(self) -> Any:
        """The in-memory value if known, else the result reference (or None)."""
        return self._data if self._data is not _UNSET else self.result_ref

    def has_data(self) -> bool:
        return self._data is not _UNSET

    def _value(self) -> Any:
        if self._data is not _UNSET:
            return self._data
        from executor.results import load_result

        return load_result(self.result_ref)

    def result(self, raise_on_failure: bool = True, fetch: bool | None = None) -> Any:
        """The run's value (raising its exception if it did not complete). Asked to fetch from
        async code, an awaitable of it, as Prefect 2's `await state.result(fetch=True)`."""
        if fetch and _caller_is_async():
            return self._fetch(raise_on_failure)
        return self._result(raise_on_failure)

    async def _fetch(self, raise_on_failure: bool) -> Any:
        if self._data is not _UNSET or not self.is_final():
            return self._result(raise_on_failure)
        # A persisted result is read off the caller's loop.
        return await asyncio.to_thread(self._result, raise_on_failure)

    def _result(self, raise_on_failure: bool) -> Any:
        if self.type is StateType.PAUSED:
            raise PausedRun("Run is paused, its result is not available.", state=self)
        if not self.is_final():
            raise UnfinishedRun(
                f"Run is in {self.type.value} state, its result is not available.", state=self
            )
        if raise_on_failure and self.type is not StateType.COMPLETED:
            raise get_state_exception(self)
        return self._value()

    def copy(self, **changes: Any) -> State:
        new = State(
            self.type,
            name=self.name,
            message=self.message,
            data=self._data,
            state_details=replace(self.state_details),
            timestamp=self.timestamp,
            id=None,
            result_ref=self.result_ref,
        )
        for key, value in changes.items():
            setattr(new, "_data" if key == "data" else key, value)
        return new

    def __repr__(self) -> str:
        if self._data is not _UNSET:
            shown = (
                repr(self._data)
                if not isinstance(self._data, (list, tuple))
                else f"{type(self._data).__name__}[{len(self._data)}]"
            )
        else:
            shown = repr(getattr(self.result_ref, "kind", None))
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"{self.name}(message={self.message!r}, type={self.type.value}, result={shown})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, State):
            return NotImplemented
        return (
            self.type is other.type
            and self.name == other.name
            and self.message == other.message
            and (self.id == other.id if self.id and other.id else True)
        )

    __hash__ = object.__hash__


# -- constructors (names as in Prefect 2) -------------------------------------------------------
def Scheduled(scheduled_time: _dt.datetime | None = None, **kw: Any) -> State:
    details = kw.pop("state_details", None) or StateDetails()
    details.scheduled_time = scheduled_time or details.scheduled_time or now()
    return State(StateType.SCHEDULED, state_details=details, **kw)


def Completed(**kw: Any) -> State:
    return State(StateType.COMPLETED, **kw)


def Running(**kw: Any) -> State:
    return State(StateType.RUNNING, **kw)


def Failed(**kw: Any) -> State:
    return State(StateType.FAILED, **kw)


def Crashed(**kw: Any) -> State:
    return State(StateType.CRASHED, **kw)


def Cancelling(**kw: Any) -> State:
    return State(StateType.CANCELLING, **kw)


def Cancelled(**kw: Any) -> State:
    return State(StateType.CANCELLED, **kw)


def Pending(**kw: Any) -> State:
    return State(StateType.PENDING, **kw)


def Paused(
    timeout_seconds: float | None = None,
    pause_expiration_time: _dt.datetime | None = None,
    reschedule: bool = False,
    pause_key: str | None = None,
    **kw: Any,
) -> State:
    if timeout_seconds is not None and pause_expiration_time is not None:
        raise ValueError("Cannot supply both a pause_expiration_time and timeout_seconds")
    details = kw.pop("state_details", None) or StateDetails()
    if pause_expiration_time is not None:
        details.pause_timeout = pause_expiration_time
    elif timeout_seconds is not None:
        details.pause_timeout = now() + _dt.timedelta(seconds=timeout_seconds)
    details.pause_reschedule = reschedule
    details.pause_key = pause_key
    return State(StateType.PAUSED, state_details=details, **kw)


def AwaitingRetry(scheduled_time: _dt.datetime | None = None, **kw: Any) -> State:
    return Scheduled(scheduled_time=scheduled_time, name="AwaitingRetry", **kw)


def Retrying(**kw: Any) -> State:
    return State(StateType.RUNNING, name="Retrying", **kw)


def Suspended(
    timeout_seconds: float | None = None,
    pause_expiration_time: _dt.datetime | None = None,
    pause_key: str | None = None,
    **kw: Any,
) -> State:
    """A pause that gives up the run's process: it is rescheduled when resumed."""
    return Paused(timeout_seconds, pause_expiration_time, True, pause_key, name="Suspended", **kw)


def Late(scheduled_time: _dt.datetime | None = None, **kw: Any) -> State:
    return Scheduled(scheduled_time=scheduled_time, name="Late", **kw)


# -- exceptions out of states: a failed state raises the exception its run raised -------------
_WRAPPERS = {
    StateType.FAILED: FailedRun,
    StateType.CRASHED: CrashedRun,
    StateType.CANCELLED: CancelledRun,
}


def is_state_iterable(obj: Any) -> bool:
    return isinstance(obj, (list, tuple, set)) and len(obj) > 0 and all(isinstance(o, State) for o in obj)


def get_state_exception(state: State) -> BaseException:
    wrapper = _WRAPPERS.get(state.type, FailedRun)
    try:
        data = state._value()
    except MissingResult:
        data = None
    if isinstance(data, Exception):
        return data
    if isinstance(data, BaseException):  # interrupts are re-raised where they happened
        return wrapper(state.message or "Run crashed.", state=state)
    if isinstance(data, str):
        return wrapper(data, state=state)
    if isinstance(data, State):
        return get_state_exception(data)
    if is_state_iterable(data):
        for inner in data:
            if inner.type in _WRAPPERS:
                return get_state_exception(inner)
        return ValueError("Failed state result was an iterable of states but none were failed.")
    if data is None:
        return wrapper(state.message or "Run failed.", state=state)
    return TypeError(
        f"Unexpected result for failed state: {data!r} —— "
        f"{type(data).__name__} cannot be resolved into an exception"
    )


def raise_state_exception(state: State) -> None:
    if state.type in _WRAPPERS:
        raise get_state_exception(state)


# -- return values to states: what a function returned decides its run's final state -------
def is_hand_built(state: State) -> bool:
    d = state.state_details
    return not d.flow_run_id and not d.task_run_id


def get_state_result(state: State, raise_on_failure: bool = True, fetch: bool | None = None) -> Any:
    """The state's result, as `state.result(...)` gives it."""
    return state.result(raise_on_failure=raise_on_failure, fetch=fetch)


def _caller_is_async() -> bool:
    """Whether the calling code is async, decided as Prefect 2's sync_compatible does: by the
    task or flow whose run this is, else by whether an event loop runs in this thread."""
    run: Any = TaskRunContext.get()
    code = run.task if run is not None else getattr(FlowRunContext.get(), "flow", None)
    if code is not None:
        return bool(code.isasync)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def format_exception(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def exception_to_failed_state(exc: BaseException, message: str | None = None) -> State:
    text = message or f"{type(exc).__name__}: {exc}"
    return State(StateType.FAILED, message=text, data=exc)


def new_transition_id() -> str:
    return str(uuid.uuid4())


# Defined on top of State, and imported from here as Prefect users import them.
from executor.state_groups import (  # noqa: E402
    StateGroup,
    aggregate_states,
    is_state,
    return_value_to_state,
)

__all__ = [
    "State",
    "StateType",
    "StateDetails",
    "Completed",
    "Failed",
    "Crashed",
    "Cancelled",
    "Cancelling",
    "Pending",
    "Running",
    "Scheduled",
    "Paused",
    "AwaitingRetry",
    "Retrying",
    "Late",
    "Suspended",
    "StateGroup",
    "is_state",
    "aggregate_states",
    "get_state_result",
    "format_exception",
    "exception_to_failed_state",
    "TERMINAL_STATES",
    "get_state_exception",
    "raise_state_exception",
    "return_value_to_state",
    "is_state_iterable",
]
