"""Checks of the options a flow or task is defined with, raised when it is defined (as Prefect
2.20 raises them, with its exception types and messages) rather than later, when it runs."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Real
from typing import Any

from executor.exceptions import InvalidNameError

BANNED_NAME_CHARACTERS = ["/", "%", "&", ">", "<"]
MAX_RETRY_DELAYS = 50


def check_hooks(given: dict[str, Any], hook_names: Iterable[str], kind: str) -> None:
    """Each hook option given must be a non-empty iterable of callables."""
    for hook_name in hook_names:
        hooks = given.get(hook_name)
        if hooks is None:
            continue
        if not hooks:
            raise ValueError(f"Empty list passed for '{hook_name}'")
        try:
            hooks = list(hooks)
        except TypeError:  # a bare function instead of a list of them
            raise TypeError(
                f"Expected iterable for '{hook_name}'; got {type(hooks).__name__} instead. "
                + _hook_usage(hook_name, kind)
            ) from None
        for hook in hooks:
            if not callable(hook):
                raise TypeError(
                    f"Expected callables in '{hook_name}'; got {type(hook).__name__} instead. "
                    + _hook_usage(hook_name, kind)
                )


def _hook_usage(hook_name: str, kind: str) -> str:
    return f"Please provide a list of hooks to '{hook_name}':\n\n@{kind}({hook_name}=[hook1, hook2])\ndef my_{kind}():\n\tpass"


def check_run_name(given: dict[str, Any], option: str) -> None:
    value = given.get(option)
    if value is not None and not isinstance(value, str) and not callable(value):
        raise TypeError(f"Expected string or callable for '{option}'; got {type(value).__name__} instead.")


def check_flow_name(given: dict[str, Any]) -> None:
    name = given.get("name")
    if name is None:
        return
    if not isinstance(name, str):
        hint = (
            " Perhaps you meant to call it? e.g. '@flow(name=get_flow_run_name())'" if callable(name) else ""
        )
        raise TypeError(
            f"Expected string for flow parameter 'name'; got {type(name).__name__} instead.{hint}"
        )
    if any(c in name for c in BANNED_NAME_CHARACTERS):
        raise InvalidNameError(
            f"Name {name!r} contains an invalid character. Must not contain any of: {BANNED_NAME_CHARACTERS}."
        )


def check_retry_condition(given: dict[str, Any]) -> None:
    fn = given.get("retry_condition_fn")
    if fn is not None and not callable(fn):
        raise TypeError(f"Expected `retry_condition_fn` to be callable, got {type(fn).__name__} instead.")


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def check_flow_retry_delay(given: dict[str, Any]) -> None:
    # Prefect's run policy refuses anything but a number (a pydantic ValidationError, a ValueError).
    delay = given.get("retry_delay_seconds")
    if delay is not None and not _is_number(delay):
        raise ValueError(f"Expected a number for 'retry_delay_seconds'; got {type(delay).__name__} instead.")


def check_task_retry_delays(given: dict[str, Any]) -> None:
    """A number, a list of at most 50 numbers, or a callable returning such a list (called here
    when the number of retries is given, else when a run needs its delays)."""
    delay = given.get("retry_delay_seconds")
    if callable(delay) and isinstance(given.get("retries"), int):
        checked_retry_delays(delay(given["retries"]))  # Prefect calls it when the task is defined
        return
    if delay is None or callable(delay) or _is_number(delay):
        return
    if isinstance(delay, (list, tuple)) and all(_is_number(d) for d in delay):
        checked_retry_delays(delay)
        return
    raise ValueError(
        "Expected a number, a list of numbers or a callable for 'retry_delay_seconds'; "
        f"got {type(delay).__name__} instead."
    )


def checked_retry_delays(delays: Any) -> Any:
    if isinstance(delays, (list, tuple)) and len(delays) > MAX_RETRY_DELAYS:
        raise ValueError(f"Can not configure more than {MAX_RETRY_DELAYS} retry delays per task.")
    return delays
