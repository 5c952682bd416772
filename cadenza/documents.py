"""JSON documents users hand in (parameters, run input), parsed the same way by both services:
once, with a refusal that names the field (each service turns it into its INVALID_ARGUMENT)."""

from __future__ import annotations

import json
from typing import Any


class DocumentError(ValueError):
    """The document is not what the field takes; the message names the field."""


# Deeper than this is no real parameter set, and would exhaust the stack of whoever reads it.
MAX_DEPTH = 64


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (iteratively: no recursion to exhaust)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            children: list[Any] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        todo.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(text: str, field: str, *, require_object: bool = False) -> Any:
    try:
        value = json.loads(text)
    except RecursionError:
        raise DocumentError(f"{field} nests lists or objects more than {MAX_DEPTH} deep") from None
    except ValueError as exc:
        raise DocumentError(f"{field} is not valid JSON: {exc}") from None
    if _depth(value) > MAX_DEPTH:
        raise DocumentError(f"{field} nests lists or objects more than {MAX_DEPTH} deep")
    if require_object and not isinstance(value, dict):
        raise DocumentError(f"{field} must be a JSON object")
    return value


def _kind(value: Any) -> str:
    """A JSON value's kind, as a client in any language would name it."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def parse_run_input(text: str, field: str = "run_input_json") -> dict[str, Any] | None:
    """Input handed to a paused flow on resume: empty for none, else (as Prefect's run input)
    a JSON object of input names to values, which pause_flow_run returns to the flow."""
    if not text:
        return None
    value = parse_json(text, field)
    if not isinstance(value, dict):
        raise DocumentError(
            f"{field} must be a JSON object of input names to values, or empty for no input "
            f"(got {_kind(value)})"
        )
    return value
