"""Parameters: binding calls to signatures, validation and coercion from type hints (pydantic),
rebuilding *args/**kwargs for the call, and a JSON form for the orchestrator."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

from executor.exceptions import (
    ParameterBindError,
    ParameterTypeError,
    ReservedArgumentError,
    SignatureMismatchError,
)

RESERVED = ("wait_for", "return_state")
_P = inspect.Parameter


def check_reserved(fn: Callable, kind: str) -> inspect.Signature:
    sig = inspect.signature(fn)
    for name in RESERVED:
        if name in sig.parameters:
            raise ReservedArgumentError(
                f"{name!r} is a reserved argument name and cannot be used in {kind} functions."
            )
    return sig


def bind(sig: inspect.Signature, fn: Callable, args: tuple, kwargs: dict) -> dict[str, Any]:
    """The call's parameters by name, defaults filled in (*args as a tuple, **kwargs as a dict)."""
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        names = list(sig.parameters)
        has_var_kw = any(p.kind is _P.VAR_KEYWORD for p in sig.parameters.values())
        unknown = [k for k in kwargs if k not in sig.parameters]
        if unknown and not has_var_kw:
            raise SignatureMismatchError.from_bad_params(names, list(kwargs)) from None
        raise ParameterBindError(
            f"Error binding parameters for function '{getattr(fn, '__name__', fn)}': {exc}."
            f"\nFunction '{getattr(fn, '__name__', fn)}' has signature '{sig}' but received args: "
            f"{args} and kwargs: {list(kwargs)}."
        ) from None
    bound.apply_defaults()
    return dict(bound.arguments)


def check_names(sig: inspect.Signature, parameters: dict[str, Any]) -> None:
    """Parameters given by name (e.g. for a run created elsewhere) must exist in the signature."""
    if any(p.kind is _P.VAR_KEYWORD for p in sig.parameters.values()):
        return
    unknown = [k for k in parameters if k not in sig.parameters]
    if unknown:
        raise SignatureMismatchError.from_bad_params(list(sig.parameters), list(parameters))


def to_call_args(sig: inspect.Signature, parameters: dict[str, Any]) -> tuple[list, dict]:
    """Rebuild (args, kwargs) from bound parameters."""
    var_pos = next((n for n, p in sig.parameters.items() if p.kind is _P.VAR_POSITIONAL), None)
    by_position = bool(var_pos and parameters.get(var_pos))
    args: list = []
    kwargs: dict = {}
    for name, param in sig.parameters.items():
        if name not in parameters:
            continue
        value = parameters[name]
        kind = param.kind
        if kind is _P.POSITIONAL_ONLY or (kind is _P.POSITIONAL_OR_KEYWORD and by_position):
            args.append(value)
        elif kind is _P.VAR_POSITIONAL:
            args.extend(value)
        elif kind is _P.VAR_KEYWORD:
            kwargs.update(value)
        else:
            kwargs[name] = value
    return args, kwargs


def _annotations(fn: Callable) -> dict[str, Any]:
    """Type hints, evaluated one by one: a hint that cannot be resolved is not checked."""
    try:
        return inspect.get_annotations(fn, eval_str=True)
    except Exception:
        pass
    raw = inspect.get_annotations(fn)
    out: dict[str, Any] = {}
    namespace = getattr(fn, "__globals__", {})
    for name, hint in raw.items():
        if isinstance(hint, str):
            try:
                hint = eval(hint, namespace)  # noqa: S307 - the function's own annotation
            except Exception:
                hint = Any
        out[name] = hint
    return out


class Validator:
    """A pydantic model built once per function; validation coerces ("1" -> 1, dict -> model)."""

    def __init__(self, fn: Callable, sig: inspect.Signature) -> None:
        import pydantic

        hints = _annotations(fn)
        fields: dict[str, Any] = {}
        self.names: list[str] = []
        for name, param in sig.parameters.items():
            if param.kind in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD):
                continue
            annotation = hints.get(name, Any)
            if annotation is inspect.Parameter.empty:
                annotation = Any
            default = param.default if param.default is not _P.empty else ...
            fields[name] = (annotation, default)
            self.names.append(name)
        config = pydantic.ConfigDict(arbitrary_types_allowed=True)
        self.model = pydantic.create_model(
            f"{getattr(fn, '__name__', 'fn')}_parameters", __config__=config, **fields
        )

    def validate(self, parameters: dict[str, Any]) -> dict[str, Any]:
        import pydantic

        subset = {k: v for k, v in parameters.items() if k in self.names}
        try:
            model = self.model(**subset)
        except pydantic.ValidationError as exc:
            raise ParameterTypeError.from_validation_error(exc) from None
        out = dict(parameters)
        for name in subset:
            out[name] = getattr(model, name)
        return out


def parameters_json(parameters: dict[str, Any]) -> str:
    """A JSON object for the orchestrator's record; values without a JSON form become repr()s."""
    from pydantic_core import to_jsonable_python

    def fallback(value: Any) -> Any:
        return repr(value)

    try:
        return json.dumps(to_jsonable_python(parameters, fallback=fallback))
    except Exception:
        return json.dumps({k: repr(v) for k, v in parameters.items()})
