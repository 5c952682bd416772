"""What a run raised, as text any language can show: the exception's type, its message and
Python's traceback. It travels with the Failed (or Crashed) state, because the exception
itself is a Python object that is persisted only on request, and only Python can read."""

from __future__ import annotations

import builtins
import traceback
from dataclasses import dataclass
from typing import Any

from executor.states import State, is_state_iterable

# A state is stored, listed and watched: its text stays small. A traceback says the most at its
# end (where the exception was raised), so that is the part kept.
MAX_TYPE = 200
MAX_MESSAGE = 2000
MAX_TRACEBACK = 8000


@dataclass(frozen=True, slots=True)
class ExceptionInfo:
    type: str
    message: str
    traceback: str


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    if getattr(builtins, cls.__name__, None) is cls:
        return cls.__name__
    return f"{cls.__module__}.{cls.__qualname__}"


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not hide the failure it describes
        return f"<{type(exc).__name__} whose str() failed>"


def _keep_start(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


def _keep_end(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"... ({len(text) - limit} earlier characters left out)\n{text[-limit:]}"


def describe(exc: BaseException) -> ExceptionInfo:
    try:
        formatted = "".join(traceback.format_exception(exc))
    except Exception:
        formatted = f"{_type_name(exc)}: {_text(exc)}\n"
    return ExceptionInfo(
        type=_keep_start(_type_name(exc), MAX_TYPE),
        message=_keep_start(_text(exc), MAX_MESSAGE),
        traceback=_keep_end(formatted, MAX_TRACEBACK),
    )


def raised_by(data: Any) -> BaseException | None:
    """The exception behind a failed state's in-memory data: the exception itself, or that of
    the first failed state it holds (a flow that returned its failed task's state)."""
    for _ in range(10):  # states hold states only a few levels deep
        if isinstance(data, BaseException):
            return data
        if isinstance(data, State) and data.has_data():
            data = data._data
        elif is_state_iterable(data):
            data = next((s for s in data if s.is_failed() or s.is_crashed()), None)
        else:
            return None
    return None
