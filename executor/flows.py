"""@flow and the Flow object (options and call styles as in Prefect 2)."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from executor import settings
from executor._params import Validator, bind, check_names, check_reserved
from executor.task_runners import BaseTaskRunner, as_task_runner
from executor.tasks import _source_hash


class Flow:
    def __init__(
        self,
        fn: Callable,
        name: str | None = None,
        version: str | None = None,
        flow_run_name: str | Callable[[], str] | None = None,
        retries: int | None = None,
        retry_delay_seconds: float | None = None,
        task_runner: BaseTaskRunner | type[BaseTaskRunner] | None = None,
        description: str | None = None,
        timeout_seconds: float | None = None,
        validate_parameters: bool = True,
        persist_result: bool | None = None,
        result_storage: Any = None,
        result_serializer: Any = None,
        cache_result_in_memory: bool = True,
        log_prints: bool | None = None,
        on_completion: list[Callable] | None = None,
        on_failure: list[Callable] | None = None,
        on_cancellation: list[Callable] | None = None,
        on_crashed: list[Callable] | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError("'fn' must be callable")
        self.fn = fn
        self.signature = check_reserved(fn, "flow")
        self.isasync = inspect.iscoroutinefunction(fn)
        self.name = name or fn.__name__.replace("_", "-")
        self.version = version or _source_hash(fn)
        self.flow_run_name = flow_run_name
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.task_runner = as_task_runner(task_runner)
        self.description = description or inspect.getdoc(fn)
        self.timeout_seconds = float(timeout_seconds) if timeout_seconds else None
        self.validate_parameters = validate_parameters
        self.persist_result = persist_result
        self.result_storage = result_storage
        self.result_serializer = result_serializer
        self.cache_result_in_memory = cache_result_in_memory
        self.log_prints = log_prints
        self.on_completion = list(on_completion or ())
        self.on_failure = list(on_failure or ())
        self.on_cancellation = list(on_cancellation or ())
        self.on_crashed = list(on_crashed or ())
        self.task_key = f"{getattr(fn, '__qualname__', self.name)}-{_source_hash(fn)}"
        self._validator: Validator | None = None
        self._options = dict(
            name=name, version=version, flow_run_name=flow_run_name, retries=retries,
            retry_delay_seconds=retry_delay_seconds, task_runner=task_runner, description=description,
            timeout_seconds=timeout_seconds, validate_parameters=validate_parameters,
            persist_result=persist_result, result_storage=result_storage,
            result_serializer=result_serializer, cache_result_in_memory=cache_result_in_memory,
            log_prints=log_prints, on_completion=on_completion, on_failure=on_failure,
            on_cancellation=on_cancellation, on_crashed=on_crashed,
        )

    def _retries(self) -> int:
        return self.retries if self.retries is not None else settings.flow_default_retries()

    def _retry_delay(self) -> float:
        if self.retry_delay_seconds is not None:
            return float(self.retry_delay_seconds)
        return settings.flow_default_retry_delay()

    def _bind(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        return bind(self.signature, self.fn, args, kwargs)

    def validate(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """Coerced parameters, or ParameterTypeError / SignatureMismatchError."""
        check_names(self.signature, parameters)
        if self._validator is None:
            self._validator = Validator(self.fn, self.signature)
        return self._validator.validate(parameters)

    def _run_name(self, parameters: dict[str, Any]) -> str | None:
        template = self.flow_run_name
        if template is None:
            return None
        if callable(template):
            name = template()
            if not isinstance(name, str):
                raise TypeError(
                    f"Callable {template!r} for 'flow_run_name' returned type {type(name).__name__} "
                    "but a string is required."
                )
            return name
        return template.format(**parameters)

    def with_options(self, **changes: Any) -> "Flow":
        options = dict(self._options)
        unknown = set(changes) - set(options)
        if unknown:
            raise TypeError(f"Unknown flow options: {sorted(unknown)}")
        options.update(changes)
        return Flow(self.fn, **options)

    def __call__(self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any) -> Any:
        from executor._engine.calls import enter_flow_call

        return enter_flow_call(self, args, kwargs, return_state, wait_for)

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r})"


def flow(
    __fn: Callable | None = None,
    *,
    name: str | None = None,
    version: str | None = None,
    flow_run_name: str | Callable[[], str] | None = None,
    retries: int | None = None,
    retry_delay_seconds: float | None = None,
    task_runner: Any = None,
    description: str | None = None,
    timeout_seconds: float | None = None,
    validate_parameters: bool = True,
    persist_result: bool | None = None,
    result_storage: Any = None,
    result_serializer: Any = None,
    cache_result_in_memory: bool = True,
    log_prints: bool | None = None,
    on_completion: list[Callable] | None = None,
    on_failure: list[Callable] | None = None,
    on_cancellation: list[Callable] | None = None,
    on_crashed: list[Callable] | None = None,
) -> Any:
    """Mark a function as a flow: each call is a flow run orchestrated through its states."""
    options = dict(
        name=name, version=version, flow_run_name=flow_run_name, retries=retries,
        retry_delay_seconds=retry_delay_seconds, task_runner=task_runner, description=description,
        timeout_seconds=timeout_seconds, validate_parameters=validate_parameters,
        persist_result=persist_result, result_storage=result_storage,
        result_serializer=result_serializer, cache_result_in_memory=cache_result_in_memory,
        log_prints=log_prints, on_completion=on_completion, on_failure=on_failure,
        on_cancellation=on_cancellation, on_crashed=on_crashed,
    )
    if __fn is not None:
        return Flow(__fn, **options)
    return lambda fn: Flow(fn, **options)
