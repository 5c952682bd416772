"""@task and the Task object (options and call styles as in Prefect 2)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import inspect
import logging
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from executor import settings
from executor._definition_checks import (
    check_hooks,
    check_retry_condition,
    check_run_name,
    check_task_retry_delays,
    checked_retry_delays,
)
from executor._hashing import code_fingerprint, code_hash, hash_objects
from executor._options import (
    Configured,
    constructor_signature,
    make_options,
    options_decorator,
    set_signature,
    set_with_options,
)
from executor._result_files import add_storage_root
from executor.annotations import allow_failure, quote, unmapped
from executor.exceptions import MappingLengthMismatch, MappingMissingIterable, UpstreamTaskError
from executor.futures import PrefectFuture
from executor.states import State

log = logging.getLogger("cadenza.tasks")


def _callable_name(fn: Callable) -> str:
    """A task's default name: the function's name; for an object without one, its class's."""
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__


def _key_name(fn: Callable) -> str:
    """The name part of a task key, as Prefect 2 makes it: the function's own name (the last
    part of its qualified name); for an object without one, its class's, with the module."""
    qualname = getattr(fn, "__qualname__", None)
    if isinstance(qualname, str):
        return qualname.rsplit(".", 1)[-1]
    cls = type(fn)
    return f"{cls.__module__}.{cls.__qualname__}"


def task_input_hash(context: Any, arguments: dict[str, Any]) -> str | None:
    """Cache key from the task's key, its function's compiled code and its (resolved) arguments.
    The compiled code, not the source text (as Prefect 2.20): an edit of comments or layout
    keeps the key. Prefect hashes the bytecode alone; the constants and names it uses are hashed
    here too, so that `x * 2` -> `x * 3` or calling another function changes the key."""
    task = context.task
    return hash_objects(task.task_key, code_fingerprint(task.fn), arguments)


def exponential_backoff(backoff_factor: float) -> Callable[[int], list[float]]:
    def retry_backoff_callable(retries: int) -> list[float]:
        retries = min(retries, 50)
        return [backoff_factor * max(0, 2**r) for r in range(retries)]

    return retry_backoff_callable


@dataclasses.dataclass(kw_only=True)
class TaskOptions:
    """Every option of `@task(...)`, `Task(fn, ...)` and `with_options(...)`, with its default and
    its checks. Values are kept normalised: tags a set, hooks lists, a timeout a float."""

    name: str | None = None
    description: str | None = None
    tags: Iterable[str] | None = None
    version: str | None = None
    cache_key_fn: Callable[..., str | None] | None = None
    cache_expiration: _dt.timedelta | None = None
    task_run_name: str | Callable[[], str] | None = None
    retries: int | None = None
    retry_delay_seconds: float | list[float] | Callable[[int], list[float]] | None = None
    retry_jitter_factor: float | None = None
    persist_result: bool | None = None
    result_storage: Any = None
    result_serializer: Any = None
    cache_result_in_memory: bool = True
    timeout_seconds: float | None = None
    log_prints: bool | None = None
    refresh_cache: bool | None = None
    retry_condition_fn: Callable[..., bool] | None = None
    on_completion: list[Callable] | None = None
    on_failure: list[Callable] | None = None

    @staticmethod
    def check_given(given: dict[str, Any]) -> None:
        """The checks Prefect 2.20 makes when a task is defined, on the options given."""
        check_hooks(given, ("on_completion", "on_failure"), "flow")  # Prefect's message says @flow
        check_run_name(given, "task_run_name")
        check_task_retry_delays(given)
        check_retry_condition(given)

    def __post_init__(self) -> None:
        if self.retry_jitter_factor is not None and self.retry_jitter_factor < 0:
            raise ValueError("`retry_jitter_factor` must be >= 0.")
        self.tags = set(self.tags or ())  # a set, as Prefect's Task.tags
        if isinstance(self.result_storage, (str, os.PathLike)):
            add_storage_root(self.result_storage)  # so results stored there can be read back
        self.timeout_seconds = float(self.timeout_seconds) if self.timeout_seconds else None
        self.on_completion = list(self.on_completion or ())
        self.on_failure = list(self.on_failure or ())


if TYPE_CHECKING:
    _TaskAttributes = TaskOptions  # type checkers and IDEs see each option as an attribute
else:
    _TaskAttributes = object


class Task(Configured[TaskOptions], _TaskAttributes):
    """A function run as orchestrated task runs: call it, `.submit()` or `.map()` it in a flow.
    Each option is also an attribute (`t.name`, `t.retries`, `t.tags`, ...)."""

    kind = "task"

    def __init__(self, fn: Callable, **options: Any) -> None:
        self._configure(fn, make_options(TaskOptions, options, "Task()"))

    def _configure(self, fn: Callable, options: TaskOptions) -> None:
        super()._configure(fn, options)
        self.name = options.name or _callable_name(fn)
        self.description = options.description or inspect.getdoc(fn)
        self.task_key = f"{_key_name(fn)}-{code_hash(fn)}"

    # -- options the engine reads -----------------------------------------------------------------
    def _retries(self) -> int:
        return self.retries if self.retries is not None else settings.task_default_retries()

    def _retry_delays(self) -> list[float]:
        delay = self.retry_delay_seconds
        if delay is None:
            delay = settings.task_default_retry_delay()
        if callable(delay):
            delay = checked_retry_delays(delay(self._retries()))
        if isinstance(delay, (int, float)):
            return [float(delay)]
        return [float(d) for d in delay]

    def _refresh_cache(self) -> bool:
        return self.refresh_cache if self.refresh_cache is not None else settings.tasks_refresh_cache()

    def _persist(self, flow_ctx: Any) -> bool:
        if self.persist_result is not None:
            return self.persist_result
        return self.cache_key_fn is not None or bool(flow_ctx is not None and flow_ctx.persist_children)

    def _result_factory(self, flow_factory: Any) -> Any:
        """The flow's result store, unless this task names its own storage or serializer."""
        if self.result_storage is None and self.result_serializer is None:
            return flow_factory
        own = self.__dict__.get("_own_factory")
        if own is None:
            from executor.results import ResultFactory

            own = ResultFactory(
                False,
                self.result_storage if self.result_storage is not None else flow_factory.storage,
                self.result_serializer if self.result_serializer is not None else flow_factory.serializer,
            )
            self.__dict__["_own_factory"] = own
        return own

    # -- user API -------------------------------------------------------------------------------
    def __call__(self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any) -> Any:
        from executor._engine.calls import enter_task_call

        return enter_task_call(self, args, kwargs, return_state, wait_for)

    def submit(self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any) -> Any:
        from executor._engine.calls import enter_task_submit

        return enter_task_submit(self, args, kwargs, return_state, wait_for)

    def map(self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any) -> Any:
        from executor._engine.calls import _task_flow_context, caller_is_async

        flow_ctx = _task_flow_context()
        if self.isasync and caller_is_async(flow_ctx):
            return self._map_async(flow_ctx, args, kwargs, return_state, wait_for)
        calls, extra = self._map_calls(args, kwargs)
        return self._submit_all(flow_ctx, calls, extra, return_state, wait_for)

    async def _map_async(
        self, flow_ctx: Any, args: tuple, kwargs: dict, return_state: bool, wait_for: Any
    ) -> Any:
        import asyncio

        # Resolving futures at the top level may block; keep the flow's loop free meanwhile.
        calls, extra = await asyncio.get_running_loop().run_in_executor(None, self._map_calls, args, kwargs)
        out = []
        for params in calls:
            out.append(await self._submit_one(flow_ctx, params, extra, return_state, wait_for))
        return out

    def _submit_all(
        self, flow_ctx: Any, calls: list[dict], extra: list[str], return_state: bool, wait_for: Any
    ) -> list:
        from executor._engine.calls import submit_parameters

        return [submit_parameters(self, flow_ctx, p, return_state, wait_for, extra) for p in calls]

    def _submit_one(
        self, flow_ctx: Any, params: dict, extra: list[str], return_state: bool, wait_for: Any
    ) -> Any:
        from executor._engine.calls import submit_parameters

        return submit_parameters(self, flow_ctx, params, return_state, wait_for, extra)

    def _map_calls(self, args: tuple, kwargs: dict) -> tuple[list[dict], list[str]]:
        """One parameter dict per item, and the upstream run ids of the map's arguments. Iterables
        are mapped item by item (all of the same length); `unmapped(...)` values, strings and
        non-iterables are passed whole to every call; futures and states given directly are
        resolved first, to decide what to iterate."""
        sig = self.signature
        try:
            bound = sig.bind_partial(*args, **kwargs)
        except TypeError:
            self._bind(args, kwargs)  # raises the proper binding error
            raise
        given = dict(bound.arguments)
        var_kw = next((n for n, p in sig.parameters.items() if p.kind is p.VAR_KEYWORD), None)
        if var_kw and var_kw in given:
            given.update(given.pop(var_kw))
        upstream: list[str] = []
        iterables: dict[str, tuple[list, quote | allow_failure | None]] = {}
        static: dict[str, Any] = {}
        for name, value in given.items():
            if isinstance(value, unmapped):
                static[name] = value.value
                continue
            wrapper = value if isinstance(value, (quote, allow_failure)) else None
            inner = value.value if wrapper is not None else value
            inner = _resolve_top_level(inner, upstream, isinstance(wrapper, allow_failure))
            if isinstance(inner, (str, bytes)) or not _iterable(inner):
                static[name] = value if wrapper is None else wrapper.rewrap(inner)
            else:
                iterables[name] = (list(inner), wrapper)
        if not iterables:
            raise MappingMissingIterable(
                f"No iterable parameters were received. Parameters for map must include at least one "
                f"iterable. Parameter values provided: {given!r}"
            )
        lengths = {name: len(items) for name, (items, _) in iterables.items()}
        if len(set(lengths.values())) > 1:
            raise MappingLengthMismatch(
                f"Received iterable parameters with different lengths. Parameters for map must all be "
                f"the same length. Got lengths: {lengths}"
            )
        count = next(iter(lengths.values()))
        calls = []
        for i in range(count):
            item = dict(static)
            for name, (items, wrapper) in iterables.items():
                item[name] = wrapper.rewrap(items[i]) if wrapper is not None else items[i]
            calls.append(self._complete(item, var_kw))
        return calls, upstream

    def _complete(self, item: dict, var_kw: str | None) -> dict:
        """Fill in defaults and gather **kwargs items back under their parameter."""
        sig = self.signature
        if var_kw:
            extra = {k: item.pop(k) for k in list(item) if k not in sig.parameters}
            item[var_kw] = extra
        bound = sig.bind_partial(
            **{
                k: v
                for k, v in item.items()
                if sig.parameters[k].kind
                not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
            }
        )
        bound.apply_defaults()
        out = dict(bound.arguments)
        for k, v in item.items():
            out[k] = v
        return out

    def __repr__(self) -> str:
        return f"Task(name={self.name!r})"

    def __get__(self, instance: Any, owner: Any) -> Any:
        # Tasks declared on classes behave like methods.
        if instance is None:
            return self
        bound = self.with_options()
        bound.fn = self.fn.__get__(instance, owner)
        bound.signature = inspect.signature(bound.fn)
        return bound


def _iterable(value: Any) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True


def _resolve_top_level(value: Any, upstream: list[str], allow: bool) -> Any:
    """Futures and states given to map directly are resolved to decide what to iterate."""
    if isinstance(value, PrefectFuture):
        value = value._wait_sync(None)
    if not isinstance(value, State):
        return value
    if value.state_details.task_run_id:
        upstream.append(value.state_details.task_run_id)
    if value.is_completed():
        return value.result()
    if allow and value.is_failed():
        return value.result(raise_on_failure=False)
    raise UpstreamTaskError(
        f"Upstream task run '{value.state_details.task_run_id}' did not reach a 'COMPLETED' state."
    )


set_signature(Task.__init__, constructor_signature(TaskOptions))
set_with_options(Task, TaskOptions)

task = options_decorator(
    TaskOptions,
    Task._from_options,
    "task",
    __name__,
    """Mark a function as a task: each call is a task run orchestrated through its states.

    `@task`, `@task(name=..., retries=..., ...)` or `task(fn, ...)`; the options are TaskOptions.""",
)
