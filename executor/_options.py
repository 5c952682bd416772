"""What FlowOptions and TaskOptions share. Each options dataclass is the one list of its
keyword names, defaults and checks; the decorator (`@task`, `@task(...)`, `task(fn, ...)`), the
class constructor and `with_options` are derived from it here, so a new option is one field.
`Configured` is what Flow and Task build alike from a function and its options; `run_name`
renders flow_run_name and task_run_name."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, ParamSpec, Protocol, Self, TypeVar, cast, overload

from executor._params import bind, check_reserved

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

P = ParamSpec("P")
R = TypeVar("R", covariant=True)
Opts = TypeVar("Opts", bound="DataclassInstance")  # FlowOptions, TaskOptions


@functools.cache
def option_names(options_type: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(options_type))


def _check_names(options_type: type, given: dict[str, Any], caller: str) -> None:
    names = option_names(options_type)
    for key in given:
        if key not in names:
            raise TypeError(f"{caller} got an unexpected keyword argument {key!r}")
    # Checked as given, before normalising (no hooks and an empty list of them look alike after).
    options_type.check_given(given)  # type: ignore[attr-defined]


def make_options(options_type: Callable[..., Opts], given: dict[str, Any], caller: str) -> Opts:
    """The options object, or a TypeError naming the first keyword that is not an option."""
    _check_names(cast(type, options_type), given, caller)
    return options_type(**given)


def replace_options(options: Opts, changes: dict[str, Any], caller: str) -> Opts:
    """A copy with `changes` applied, checked like fresh options."""
    _check_names(type(options), changes, caller)
    return dataclasses.replace(options, **changes)


def as_attributes(options: Any) -> dict[str, Any]:
    """{name: value} of every option, to set on the object they configure."""
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}


class Configured(Generic[Opts]):
    """What Flow and Task share: a function and its options, each option also an attribute. Built
    by the class (`Flow(fn, ...)`), by the decorator (`_from_options`) or by `with_options`; a
    subclass's `_configure` adds what is its own to what this one sets."""

    kind: ClassVar[str]  # "flow" or "task", as messages name the function
    options: Opts
    fn: Callable[..., Any]
    signature: inspect.Signature
    isasync: bool

    @classmethod
    def _from_options(cls, fn: Callable[..., Any], options: Opts) -> Self:
        obj = cls.__new__(cls)
        obj._configure(fn, options)
        return obj

    def _configure(self, fn: Callable[..., Any], options: Opts) -> None:
        if not callable(fn):
            raise TypeError("'fn' must be callable")
        self.__dict__.update(as_attributes(options))
        self.options = options
        self.fn = fn
        self.signature = check_reserved(fn, self.kind)
        self.isasync = inspect.iscoroutinefunction(fn)

    def with_options(self, **changes: Any) -> Self:
        """A copy with the given options changed and the others kept."""
        # As in Prefect, an empty list of hooks keeps the hooks there are (it is refused elsewhere).
        changes = {k: v for k, v in changes.items() if not (k.startswith("on_") and v == [])}
        return self._from_options(self.fn, replace_options(self.options, changes, "with_options()"))

    def _bind(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        return bind(self.signature, self.fn, args, kwargs)


def run_name(template: str | Callable[[], str], parameters: dict[str, Any], option: str) -> str:
    """A run's name from its `option` (flow_run_name, task_run_name): the template formatted with
    the run's parameters, or what the callable returns, which must be a string."""
    if callable(template):
        name = template()
        if not isinstance(name, str):
            raise TypeError(
                f"Callable {template!r} for {option!r} returned type {type(name).__name__} but a string is required."
            )
        return name
    return template.format(**parameters)


def keyword_parameters(options_type: type) -> list[inspect.Parameter]:
    """The options as keyword-only parameters, for signatures that help() and IDEs show."""
    return [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
        for f in dataclasses.fields(options_type)
    ]


def constructor_signature(options_type: type) -> inspect.Signature:
    """`(self, fn, /?, *, <options>)` for the class whose constructor takes a function and options."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    fixed = [inspect.Parameter("self", kind), inspect.Parameter("fn", kind, annotation="Callable")]
    return inspect.Signature(fixed + keyword_parameters(options_type))


class _Unchanged:
    """The default of each keyword of `with_options`: the option keeps its value."""

    def __repr__(self) -> str:
        return "<unchanged>"


UNCHANGED: Any = _Unchanged()


def set_with_options(cls: type[Configured[Any]], options_type: type) -> None:
    """Give `cls` its own `with_options`, whose signature (help(), inspect, notebooks) lists each option
    as a keyword, as Prefect's explicit signatures do, instead of `**changes` (static type checkers
    still see `**changes`)."""

    def with_options(self: Configured[Any], **changes: Any) -> Any:
        return Configured.with_options(self, **{k: v for k, v in changes.items() if v is not UNCHANGED})

    with_options.__doc__ = Configured.with_options.__doc__
    with_options.__qualname__ = f"{cls.__name__}.with_options"
    with_options.__module__ = cls.__module__
    kind = inspect.Parameter.KEYWORD_ONLY
    options = [
        inspect.Parameter(f.name, kind, default=UNCHANGED, annotation=f.type)
        for f in dataclasses.fields(options_type)
    ]
    set_signature(
        with_options, inspect.Signature([inspect.Parameter("self", kind.POSITIONAL_OR_KEYWORD)] + options)
    )
    cls.with_options = with_options  # type: ignore[method-assign]  # each class its own, for its signature


def set_signature(fn: Callable[..., Any], signature: inspect.Signature) -> None:
    """The signature that inspect, help() and IDEs show for `fn`."""
    # A function takes any attribute; mypy's type for functions knows only the standard ones.
    fn.__signature__ = signature  # type: ignore[attr-defined]


class OptionsDecorator(Protocol, Generic[P, R]):
    """`@deco`, `@deco(...)` and `deco(fn, ...)`, typed from the options dataclass's fields so
    that type checkers and IDEs list the keyword names."""

    @overload
    def __call__(self, __fn: Callable[..., Any], /, *args: P.args, **kwargs: P.kwargs) -> R: ...

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Callable[[Callable[..., Any]], R]: ...


def options_decorator(
    options_type: Callable[P, Opts],
    build: Callable[[Callable[..., Any], Opts], R],
    name: str,
    module: str,
    doc: str,
) -> OptionsDecorator[P, R]:
    """The decorator `name`: checks its keywords into an options object, then `build(fn, options)`."""

    def decorator(__fn: Callable[..., Any] | None = None, /, **given: Any) -> Any:
        options = make_options(options_type, given, f"{name}()")
        if __fn is None:
            return lambda fn: build(fn, options)
        return build(__fn, options)

    decorator.__name__ = decorator.__qualname__ = name
    decorator.__module__ = module
    decorator.__doc__ = doc
    first = inspect.Parameter(
        "__fn", inspect.Parameter.POSITIONAL_ONLY, default=None, annotation="Callable | None"
    )
    set_signature(decorator, inspect.Signature([first] + keyword_parameters(cast(type, options_type))))
    return cast(OptionsDecorator[P, R], decorator)
