"""Hashes that name a task and its inputs: of a function's source (task keys, flow versions), of
its compiled code and of argument values (cache keys). Stable across processes: nothing here
depends on an object's address or on string hashing."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import types
from collections.abc import Callable
from typing import Any

log = logging.getLogger("cadenza.tasks")


def code_of(fn: Callable) -> Any:
    """Where a callable's source is: the function itself, the function a partial wraps, or the
    class of a callable object (whose repr, with its address, differs in every process)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn if inspect.isroutine(fn) or inspect.isclass(fn) else type(fn)


def source_hash(fn: Callable) -> str:
    code = code_of(fn)
    try:
        text = inspect.getsource(code)
    except (OSError, TypeError):
        text = getattr(code, "__qualname__", None) or type(code).__qualname__
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:12]


def code_hash(fn: Callable) -> str:
    """A short hash of what the function does: its compiled code, so that an edit of comments or
    layout keeps it (the source text's hash for a callable without Python code)."""
    fingerprint = code_fingerprint(fn)
    if not fingerprint:
        return source_hash(fn)
    return hashlib.md5(fingerprint.encode(), usedforsecurity=False).hexdigest()[:12]


def hash_objects(*objects: Any) -> str | None:
    """A stable hash: JSON when possible, else cloudpickle; None (no cache key) when neither can
    serialise the objects."""
    try:
        # TypeError: keys that cannot be sorted or written; ValueError: circular references and
        # values pydantic cannot convert (PydanticSerializationError); RecursionError: deep nesting.
        blob = json.dumps(objects, sort_keys=True, default=_json_default).encode()
    except (TypeError, ValueError, RecursionError):
        import cloudpickle

        try:
            blob = cloudpickle.dumps(objects)
        except Exception:  # pickling runs objects' own __reduce__: anything can come out
            log.debug(
                "Cannot hash %d objects for a cache key; the run is not cached", len(objects), exc_info=True
            )
            return None
    return hashlib.md5(blob, usedforsecurity=False).hexdigest()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return {"__bytes__": obj.hex()}
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(obj)


def code_fingerprint(fn: Callable) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    if not (inspect.isroutine(fn) or inspect.isclass(fn)):  # a callable object: its __call__ runs
        fn = type(fn).__call__
    code_object = getattr(inspect.unwrap(fn), "__code__", None)
    return _describe_code(code_object) if isinstance(code_object, types.CodeType) else ""


def _describe_code(code: types.CodeType) -> str:
    """The bytecode, names and constants (nested functions included), without line numbers."""
    consts = []
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            consts.append(_describe_code(const))
        elif isinstance(const, frozenset):  # its order varies with string hashing between processes
            consts.append(repr(sorted(repr(item) for item in const)))
        else:
            consts.append(repr(const))
    return "|".join([code.co_code.hex(), ",".join(code.co_names), *consts])
