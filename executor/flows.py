"""@flow and the Flow object (options and call styles as in Prefect 2)."""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from executor import settings
from executor._definition_checks import check_flow_name, check_flow_retry_delay, check_hooks, check_run_name
from executor._hashing import source_hash
from executor._options import (
    Configured,
    constructor_signature,
    make_options,
    options_decorator,
    run_name,
    set_signature,
    set_with_options,
)
from executor._params import Validator, check_names
from executor._result_files import add_storage_root
from executor.task_runners import BaseTaskRunner, as_task_runner

HOOK_NAMES = ("on_completion", "on_failure", "on_cancellation", "on_crashed", "on_running")


@dataclasses.dataclass(kw_only=True)
class FlowOptions:
    """Every option of `@flow(...)`, `Flow(fn, ...)` and `with_options(...)`, with its default and
    its checks. Values are kept normalised: the task runner an instance, hooks lists, a timeout
    a float."""

    name: str | None = None
    version: str | None = None
    flow_run_name: str | Callable[[], str] | None = None
    retries: int | None = None
    retry_delay_seconds: float | None = None
    task_runner: BaseTaskRunner | type[BaseTaskRunner] | None = None
    description: str | None = None
    timeout_seconds: float | None = None
    validate_parameters: bool = True
    persist_result: bool | None = None
    result_storage: Any = None
    result_serializer: Any = None
    cache_result_in_memory: bool = True
    log_prints: bool | None = None
    on_completion: list[Callable] | None = None
    on_failure: list[Callable] | None = None
    on_cancellation: list[Callable] | None = None
    on_crashed: list[Callable] | None = None
    on_running: list[Callable] | None = None

    @staticmethod
    def check_given(given: dict[str, Any]) -> None:
        """The checks Prefect 2.20 makes when a flow is defined, on the options given."""
        check_flow_name(given)
        check_hooks(given, HOOK_NAMES, "flow")
        check_run_name(given, "flow_run_name")
        check_flow_retry_delay(given)

    def __post_init__(self) -> None:
        self.task_runner = as_task_runner(self.task_runner)
        if isinstance(self.result_storage, (str, os.PathLike)):
            add_storage_root(self.result_storage)  # so results stored there can be read back
        self.timeout_seconds = float(self.timeout_seconds) if self.timeout_seconds else None
        self.on_completion = list(self.on_completion or ())
        self.on_failure = list(self.on_failure or ())
        self.on_cancellation = list(self.on_cancellation or ())
        self.on_crashed = list(self.on_crashed or ())
        self.on_running = list(self.on_running or ())


if TYPE_CHECKING:
    _FlowAttributes = FlowOptions  # type checkers and IDEs see each option as an attribute
else:
    _FlowAttributes = object


class Flow(Configured[FlowOptions], _FlowAttributes):
    """A function run as orchestrated flow runs. Each option is also an attribute (`f.name`,
    `f.retries`, `f.task_runner`, `f.timeout_seconds`, ...)."""

    kind = "flow"

    def __init__(self, fn: Callable, **options: Any) -> None:
        self._configure(fn, make_options(FlowOptions, options, "Flow()"))

    def _configure(self, fn: Callable, options: FlowOptions) -> None:
        super()._configure(fn, options)
        source = source_hash(fn)
        self.name = options.name or fn.__name__.replace("_", "-")
        self.version = options.version or source
        self.description = options.description or inspect.getdoc(fn)
        self.task_key = f"{getattr(fn, '__qualname__', self.name)}-{source}"
        self._validator: Validator | None = None
        # The option is `validate_parameters`; as in Prefect, the flow keeps it as
        # `should_validate_parameters`, and `validate_parameters` is the method below.
        self.should_validate_parameters: bool = options.validate_parameters
        del self.__dict__["validate_parameters"]

    def _retries(self) -> int:
        return self.retries if self.retries is not None else settings.flow_default_retries()

    def _retry_delay(self) -> float:
        if self.retry_delay_seconds is not None:
            return float(self.retry_delay_seconds)
        return settings.flow_default_retry_delay()

    # FlowOptions has the option of this name, seen as an attribute by type checkers only.
    def validate_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """The parameters cast to the types of the function's annotations, or ParameterTypeError
        (a value of the wrong type) / SignatureMismatchError (a name the function does not take)."""
        check_names(self.signature, parameters)
        if self._validator is None:
            self._validator = Validator(self.fn, self.signature)
        return self._validator.validate(parameters)

    def _run_name(self, parameters: dict[str, Any]) -> str | None:
        template = self.flow_run_name
        return None if template is None else run_name(template, parameters, "flow_run_name")

    def __call__(self, *args: Any, return_state: bool = False, wait_for: Any = None, **kwargs: Any) -> Any:
        from executor._engine.calls import enter_flow_call

        return enter_flow_call(self, args, kwargs, return_state, wait_for)

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r})"


set_signature(Flow.__init__, constructor_signature(FlowOptions))
set_with_options(Flow, FlowOptions)

flow = options_decorator(
    FlowOptions,
    Flow._from_options,
    "flow",
    __name__,
    """Mark a function as a flow: each call is a flow run orchestrated through its states.

    `@flow`, `@flow(name=..., task_runner=..., ...)` or `flow(fn, ...)`; the options are FlowOptions.""",
)
