"""Checks on what a caller may submit: entrypoints under allowed prefixes, JSON parameters."""

from __future__ import annotations

import importlib.util

import grpc

from cadenza.documents import DocumentError, parse_json


class Refused(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_parameters(text: str, field: str = "parameters_json") -> dict:
    """Parameters are data: parsed as JSON, never evaluated."""
    try:
        value = parse_json(text or "{}", field)
    except DocumentError as exc:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
    if not isinstance(value, dict):
        raise Refused(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{field} must be a JSON object of parameter names to values",
        )
    return value


def check_entrypoint(entrypoint: str, allowed_prefixes: list[str]) -> tuple[str, str]:
    """Return (module, function) of an entrypoint the operator allows, or refuse it."""
    module, sep, function = entrypoint.rpartition(":")
    if not sep or not module or not function.isidentifier():
        raise Refused(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"entrypoint {entrypoint!r} must look like 'package.module:flow_function'",
        )
    if "/" in module or module.endswith(".py") or not all(p.isidentifier() for p in module.split(".")):
        raise Refused(
            grpc.StatusCode.PERMISSION_DENIED,
            f"entrypoint {entrypoint!r} is a file path; only deployments may run files. "
            "Deploy it with `cadenza deploy`, or submit a module entrypoint.",
        )
    if not any(module == p or module.startswith(p + ".") for p in allowed_prefixes):
        allowed = ", ".join(allowed_prefixes) or "none"
        raise Refused(
            grpc.StatusCode.PERMISSION_DENIED,
            f"entrypoint {entrypoint!r} is not allowed: this executor runs deployments, and "
            f"module entrypoints under CADENZA_ALLOWED_ENTRYPOINTS (now: {allowed})",
        )
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise Refused(
            grpc.StatusCode.NOT_FOUND, f"module {module!r} of entrypoint {entrypoint!r} was not found"
        )
    return module, function
