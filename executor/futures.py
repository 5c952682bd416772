"""Futures for submitted task runs. The run itself is a coroutine on the engine loop; the future
is how other threads (sync waits) and the engine (upstream resolution) see its final state."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

from executor.states import State

_id_lock = threading.Lock()


class PrefectFuture:
    """A submitted task run: `.result()`, `.wait()`, `.task_run_id`.

    `asynchronous` futures (an async task submitted from an async flow) return awaitables from
    `.result()` and `.wait()`, as in Prefect 2."""

    __slots__ = ("task", "key", "asynchronous", "_cf", "_engine_done", "_task_run_id", "_id_event", "__weakref__")

    def __init__(self, task: Any, key: str, loop: asyncio.AbstractEventLoop, asynchronous: bool = False) -> None:
        self.task = task
        self.key = key
        self.asynchronous = asynchronous
        self._cf: concurrent.futures.Future = concurrent.futures.Future()
        # Created here from any thread; only ever resolved and awaited on the engine loop.
        self._engine_done: asyncio.Future = loop.create_future()
        self._task_run_id: str | None = None
        self._id_event: threading.Event | None = None

    # -- engine side ----------------------------------------------------------------------------
    def _set_task_run_id(self, task_run_id: str) -> None:
        with _id_lock:
            self._task_run_id = task_run_id
            event = self._id_event
        if event is not None:
            event.set()

    def _set_state(self, state: State) -> None:
        """Called on the engine loop when the run reached the state it ends with."""
        if self._task_run_id is None and state.state_details.task_run_id:
            self._set_task_run_id(state.state_details.task_run_id)
        if not self._engine_done.done():
            self._engine_done.set_result(state)
        if not self._cf.done():
            self._cf.set_result(state)
        if self._id_event is not None:
            self._id_event.set()

    async def _wait_engine(self) -> State:
        return await self._engine_done

    def _final_state_nowait(self) -> State | None:
        return self._cf.result() if self._cf.done() else None

    # -- user side ------------------------------------------------------------------------------
    @property
    def task_run_id(self) -> str | None:
        if self._task_run_id is None and not self._cf.done():
            with _id_lock:
                if self._task_run_id is None and self._id_event is None:
                    self._id_event = threading.Event()
                event = self._id_event
            # Re-check while waiting: the run may end without ever being created.
            while event is not None and self._task_run_id is None and not self._cf.done():
                event.wait(0.05)
        return self._task_run_id

    def wait(self, timeout: float | None = None) -> Any:
        if self.asynchronous:
            return self._wait_async(timeout)
        return self._wait_sync(timeout)

    def _wait_sync(self, timeout: float | None) -> State | None:
        try:
            return self._cf.result(timeout)
        except concurrent.futures.TimeoutError:
            return None

    async def _wait_async(self, timeout: float | None) -> State | None:
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._cf)), timeout)
        except asyncio.TimeoutError:
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
        return self._final_state_nowait()

    def __repr__(self) -> str:
        return f"PrefectFuture({self.key!r})"

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:  # a future is never "falsy" (guards against `if fut:` surprises)
        return True


TaskRunFuture = PrefectFuture
