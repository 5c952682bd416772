"""Flows the executor service loads to check a submission before any run is created: a flow
that cannot be imported, or parameters that do not fit its signature, are refused with a
status code at once instead of becoming a Failed run. Loading runs the flow's module, so an
entrypoint the allowlist refuses is never loaded here (PERMISSION_DENIED)."""

from __future__ import annotations

import asyncio
import os
import threading

import grpc

from cadenza.text import echo

from .._allowlist import EntrypointAllowlist
from .._load import FlowLoadError, FlowNotFound, is_file_target, load_flow, split_entrypoint
from ..exceptions import ParameterTypeError, SignatureMismatchError
from .submit import ENTRYPOINT_SHAPE, Refused, check_allowed

LOAD_TIMEOUT_SECONDS = 30.0


def unloadable(exc: FlowLoadError, entrypoint: str, deployment: str) -> Refused:
    """Why the flow cannot be loaded, with advice for who can fix it. A caller naming an
    entrypoint that has no such flow asked for something that does not exist (NOT_FOUND); a
    deployment, or a module that fails to import, is in a state its owner must fix first."""
    if deployment:
        return Refused(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"deployment {echo(deployment)} names the flow at {echo(entrypoint)}, which cannot be "
            f"loaded: {exc}. Fix the flow or the deployment's entrypoint, and redeploy.",
        )
    if isinstance(exc, FlowNotFound):
        there = (
            "it has nothing by that name"
            if exc.found == "nothing"
            else f"{exc.name!r} there is {exc.found}, not a flow: decorate it with @flow"
        )
        return Refused(
            grpc.StatusCode.NOT_FOUND,
            f"no flow {exc.name!r} in module {exc.target!r} ({exc.where}): {there}. "
            f"Check the entrypoint {echo(entrypoint)}: {ENTRYPOINT_SHAPE}.",
        )
    return Refused(
        grpc.StatusCode.FAILED_PRECONDITION,
        f"the flow at {echo(entrypoint)} cannot be loaded: {exc}. Fix the module, then submit again.",
    )


def _stamp(entrypoint: str) -> float:
    """A file entrypoint is reloaded when the file changes (a redeploy of edited code)."""
    target, _ = split_entrypoint(entrypoint)
    if is_file_target(target):
        try:
            return os.stat(target).st_mtime
        except OSError:
            return -1.0
    return 0.0


class FlowCatalog:
    def __init__(self, allowlist: EntrypointAllowlist) -> None:
        self.allowlist = allowlist
        self._flows: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()  # imports are not re-entrant across threads

    def _load(self, entrypoint: str):
        stamp = _stamp(entrypoint)
        with self._lock:
            cached = self._flows.get(entrypoint)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            flow = load_flow(entrypoint)
            self._flows[entrypoint] = (stamp, flow)
            return flow

    async def check(self, entrypoint: str, parameters: dict, deployment: str = "") -> None:
        """Refuse what cannot run: an entrypoint given directly, or that of `deployment`."""
        checked = check_allowed(entrypoint, self.allowlist)
        try:
            flow = await asyncio.wait_for(asyncio.to_thread(self._load, checked), LOAD_TIMEOUT_SECONDS)
        except FlowLoadError as exc:
            raise unloadable(exc, entrypoint, deployment) from None
        except TimeoutError:
            raise Refused(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"loading the flow at {echo(entrypoint)} took longer than {LOAD_TIMEOUT_SECONDS:.0f}s",
            ) from None
        if not flow.should_validate_parameters:
            return
        try:
            flow.validate_parameters(parameters)
        except (ParameterTypeError, SignatureMismatchError) as exc:
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"parameters do not fit flow {flow.name!r}: {exc.__class__.__name__}: {exc}",
            ) from None
