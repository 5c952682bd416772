"""Run contexts: what code running inside a flow or task run can find out about it."""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from typing import Any

from executor.exceptions import CadenzaException


class MissingContextError(CadenzaException, RuntimeError):
    pass


class FlowRunContext:
    """One attempt of one flow run's body (a flow retry gets a fresh one, so dynamic keys
    start again at 0 and the same calls map to the same task runs)."""

    def __init__(self, **kw: Any) -> None:
        self.flow = kw["flow"]
        self.flow_run = kw["flow_run"]  # executor.objects.FlowRun
        self.parameters: dict = kw.get("parameters", {})
        self.task_runner = kw["task_runner"]
        self.result_factory = kw["result_factory"]
        self.persist_children: bool = kw.get("persist_children", False)
        self.log_prints: bool = kw.get("log_prints", False)
        self.user_loop = kw.get("user_loop")  # the loop an async flow body runs on
        self.tags: frozenset = kw.get("tags", frozenset())
        self.dynamic_keys: dict[str, int] = {}
        self.children: list[Any] = []  # futures and states of task runs and subflows, in call order
        self.task_run_results: dict[int, Any] = {}  # id(result) -> state (link_state_to_result)
        self.timed_out = threading.Event()
        self.cancelled = threading.Event()  # the run was cancelled: a sync body stops at its next call
        self.pause_count = 0
        self._lock = threading.Lock()

    def next_dynamic_key(self, task_key: str) -> int:
        with self._lock:
            key = self.dynamic_keys.get(task_key, 0)
            self.dynamic_keys[task_key] = key + 1
            return key

    @property
    def flow_run_id(self) -> str:
        return self.flow_run.id

    @classmethod
    def get(cls) -> FlowRunContext | None:
        return _flow_ctx.get()


class TaskRunContext:
    __slots__ = ("task", "task_run", "parameters", "result_factory", "log_prints", "flow_run_context")

    def __init__(
        self,
        task: Any,
        task_run: Any,
        parameters: dict,
        result_factory: Any,
        log_prints: bool,
        flow_run_context: FlowRunContext | None,
    ) -> None:
        self.task = task
        self.task_run = task_run
        self.parameters = parameters
        self.result_factory = result_factory
        self.log_prints = log_prints
        self.flow_run_context = flow_run_context

    @classmethod
    def get(cls) -> TaskRunContext | None:
        return _task_ctx.get()


_flow_ctx: contextvars.ContextVar[FlowRunContext | None] = contextvars.ContextVar(
    "cadenza_flow_run", default=None
)
_task_ctx: contextvars.ContextVar[TaskRunContext | None] = contextvars.ContextVar(
    "cadenza_task_run", default=None
)
_tags_ctx: contextvars.ContextVar[frozenset] = contextvars.ContextVar("cadenza_tags", default=frozenset())


def get_run_context() -> Any:
    task_ctx = _task_ctx.get()
    if task_ctx is not None:
        return task_ctx
    flow_ctx = _flow_ctx.get()
    if flow_ctx is not None:
        return flow_ctx
    raise MissingContextError("No run context available. You are not in a flow or task run context.")


def current_tags() -> frozenset:
    return _tags_ctx.get()


@contextlib.contextmanager
def tags(*new_tags: str) -> Iterator[frozenset]:
    """Add tags to every flow and task run created inside the block."""
    merged = _tags_ctx.get() | frozenset(new_tags)
    token = _tags_ctx.set(merged)
    try:
        yield merged
    finally:
        _tags_ctx.reset(token)


@contextlib.contextmanager
def enter_flow_context(ctx: FlowRunContext) -> Iterator[FlowRunContext]:
    ftoken = _flow_ctx.set(ctx)
    ttoken = _task_ctx.set(None)
    gtoken = _tags_ctx.set(ctx.tags)
    try:
        yield ctx
    finally:
        _tags_ctx.reset(gtoken)
        _task_ctx.reset(ttoken)
        _flow_ctx.reset(ftoken)


def set_task_context(ctx: TaskRunContext | None) -> contextvars.Token:
    return _task_ctx.set(ctx)


def reset_task_context(token: contextvars.Token) -> None:
    _task_ctx.reset(token)
