"""Checks on what a caller hands in: entrypoints the allowlist allows, JSON parameters and run
input."""

from __future__ import annotations

import grpc

from cadenza.documents import DocumentError, parse_json, parse_run_input
from cadenza.text import echo

from .._allowlist import EntrypointAllowlist, EntrypointNotAllowed, find_module_spec
from .._load import is_file_target

# What a direct submit names, as every refusal of its entrypoint says.
ENTRYPOINT_SHAPE = "'package.module:flow_function', naming a function decorated with @flow"


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


def check_run_input(text: str) -> None:
    """Run input is checked here as the orchestrator checks it, so both answer alike."""
    try:
        parse_run_input(text)
    except DocumentError as exc:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None


def check_entrypoint(entrypoint: str, allowlist: EntrypointAllowlist) -> tuple[str, str]:
    """Return (module, function) of an entrypoint the operator allows, or refuse it; nothing
    is imported either way."""
    module, sep, function = entrypoint.rpartition(":")
    if not sep or not module or not function.isidentifier():
        raise Refused(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"entrypoint {echo(entrypoint)} must look like {ENTRYPOINT_SHAPE}",
        )
    # Files go through deployments, which store them with an absolute path any worker can
    # open; a direct submit names a module on the executor's import path.
    if is_file_target(module) or not all(p.isidentifier() for p in module.split(".")):
        raise Refused(
            grpc.StatusCode.PERMISSION_DENIED,
            f"entrypoint {echo(entrypoint)} is a file path; only deployments may run files. "
            "Deploy it with `cadenza deploy`, or submit a module entrypoint.",
        )
    check_allowed(entrypoint, allowlist)
    spec, _ = find_module_spec(module)
    if spec is None:
        raise Refused(
            grpc.StatusCode.NOT_FOUND,
            f"module {echo(module)} of entrypoint {echo(entrypoint)} was not found on the executor's "
            f"import path; check the entrypoint: {ENTRYPOINT_SHAPE}",
        )
    return module, function


def check_allowed(entrypoint: str, allowlist: EntrypointAllowlist) -> str:
    """The entrypoint to load (see EntrypointAllowlist.check), or PERMISSION_DENIED."""
    try:
        return allowlist.check(entrypoint)
    except EntrypointNotAllowed as exc:
        raise Refused(grpc.StatusCode.PERMISSION_DENIED, str(exc)) from None
