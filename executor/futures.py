"""Futures for submitted task runs. The run itself is a coroutine on the engine loop; the future
is how other threads (sync waits) and the engine (upstream resolution) see its final state.

Kept small on purpose (a 100k-task fan-out holds 100k of them): the waiting primitives are
created only when someone actually waits before the run is over."""

from __future__ import annotations

import asyncio
import threading
import warnings
from typing import Any

from executor.states import State

_lock = threading.Lock()


class PrefectFuture:
    """A submitted task run: `.result()`, `.wait()`, `.task_run_id`.

    `asynchronous` futures (an async task submitted from an async flow) return awaitables from
    `.result()` and `.wait()`, as in Prefect 2."""

    __slots__ = (
        "task",
        "_key",
        "asynchronous",
        "_state",
        "_task_run_id",
        "_event",
        "_engine_waiter",
        "_loop",
        "__weakref__",
    )

    def __init__(
        self, task: Any, key: str | int, loop: asyncio.AbstractEventLoop, asynchronous: bool = False
    ) -> None:
        self.task = task
        # An int is the run's dynamic key: the "name-N" string is made when asked for, not kept
        # (100k futures would hold 100k of them).
        self._key = key
        self.asynchronous = asynchronous
        self._loop = loop
        self._state: State | None = None
        self._task_run_id: str | None = None
        self._event: threading.Event | None = None  # for threads waiting on the id or the state
        self._engine_waiter: asyncio.Future | None = None  # only touched on the engine loop

    # -- engine side (engine loop only) ---------------------------------------------------------
    def _set_task_run_id(self, task_run_id: str) -> None:
        with _lock:
            self._task_run_id = task_run_id
            event = self._event
        if event is not None:
            event.set()

    @property
    def key(self) -> str:
        key = self._key
        return f"{self.task.name}-{key}" if isinstance(key, int) else key

    def _set_state(self, state: State) -> None:
        details = state.state_details
        if self._task_run_id is None and details.task_run_id:
            self._task_run_id = details.task_run_id
        elif details.task_run_id == self._task_run_id:
            details.task_run_id = self._task_run_id  # one copy of the id, not two
        with _lock:
            self._state = state
            event = self._event
        if event is not None:
            event.set()
        waiter = self._engine_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(state)

    async def _wait_engine(self) -> State:
        if self._state is not None:
            return self._state
        if self._engine_waiter is None:
            self._engine_waiter = self._loop.create_future()
        # Shielded: one waiter giving up (a timeout) must not cancel the future others share.
        return await asyncio.shield(self._engine_waiter)

    # -- user side ------------------------------------------------------------------------------
    def _thread_event(self) -> threading.Event:
        with _lock:
            if self._event is None:
                self._event = threading.Event()
                if self._state is not None:
                    self._event.set()
            return self._event

    @property
    def task_run_id(self) -> str | None:
        if self._task_run_id is None and self._state is None:
            event = self._thread_event()
            # Re-check while waiting: the event also fires when the run ends without an id.
            while self._task_run_id is None and self._state is None:
                event.wait(0.05)
                event = self._thread_event()
        return self._task_run_id

    def wait(self, timeout: float | None = None) -> Any:
        if self.asynchronous:
            return self._wait_async(timeout)
        return self._wait_sync(timeout)

    def _wait_sync(self, timeout: float | None) -> State | None:
        if self._state is None:
            event = self._thread_event()
            while self._state is None:
                if not event.wait(timeout) and timeout is not None:
                    break
                if self._state is None:  # woken by the id being set; keep waiting
                    with _lock:
                        if self._state is None:
                            event.clear()
        return self._state

    async def _wait_async(self, timeout: float | None) -> State | None:
        if self._state is not None:
            return self._state
        waiting = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._wait_engine(), self._loop))
        try:
            return await asyncio.wait_for(waiting, timeout)
        except TimeoutError:
            return None

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> Any:
        if self.asynchronous:
            return self._result_async(timeout, raise_on_failure)
        return self._result_sync(timeout, raise_on_failure)

    def _result_sync(self, timeout: float | None, raise_on_failure: bool) -> Any:
        state = self._wait_sync(timeout)
        if state is None:
            raise TimeoutError(f"Task run {self._task_run_id} did not complete within {timeout} seconds")
        return state.result(raise_on_failure=raise_on_failure)

    async def _result_async(self, timeout: float | None, raise_on_failure: bool) -> Any:
        state = await self._wait_async(timeout)
        if state is None:
            raise TimeoutError(f"Task run {self._task_run_id} did not complete within {timeout} seconds")
        return state.result(raise_on_failure=raise_on_failure)

    def get_state(self) -> State | None:
        return self._state

    def __repr__(self) -> str:
        return f"PrefectFuture({self.key!r})"

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        # A future is always true: `if my_task.submit():` is almost surely a mistake for its result.
        warnings.warn(
            "A 'PrefectFuture' from a task call was cast to a boolean; did you mean to check the"
            " result of the task instead? e.g. `if my_task().result(): ...`",
            stacklevel=2,
        )
        return True
