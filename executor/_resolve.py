"""Input resolution: futures and states inside a call's arguments become values before the
function runs, and the upstream runs they came from are recorded as task_inputs."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from executor.annotations import BaseAnnotation, allow_failure, quote, unmapped
from executor.exceptions import UpstreamTaskError
from executor.futures import PrefectFuture
from executor.states import State, StateType

log = logging.getLogger("cadenza.engine")
_ATOMIC = (int, float, str, bytes, bool, type(None), complex)


def is_untrackable(value: Any) -> bool:
    """Objects whose id() cannot name one result: interned singletons and small ints."""
    if value is None or value is True or value is False or value is Ellipsis or value is NotImplemented:
        return True
    if type(value) is int and -5 <= value <= 256:
        return True
    return False


def _upstream_error(state: State) -> UpstreamTaskError:
    return UpstreamTaskError(
        f"Upstream task run '{state.state_details.task_run_id}' did not reach a 'COMPLETED' state."
    )


class _Resolver:
    """One walk over a call's arguments. Values are rebuilt only where something changed, so
    untouched objects keep their identity (their link to the task that produced them)."""

    __slots__ = ("results", "inputs", "resolve")

    def __init__(self, task_run_results: dict | None, resolve: bool) -> None:
        self.results = task_run_results or {}
        self.inputs: list[str] = []
        self.resolve = resolve

    def _link(self, task_run_id: str | None) -> None:
        if task_run_id and task_run_id not in self.inputs:
            self.inputs.append(task_run_id)

    async def visit(self, value: Any, allow: bool = False) -> Any:
        if isinstance(value, _ATOMIC):
            if self.results and not is_untrackable(value):
                state = self.results.get(id(value))
                if state is not None:
                    self._link(state.state_details.task_run_id)
            return value
        if isinstance(value, PrefectFuture):
            state = await value._wait_engine()
            return self._state_value(state, allow)
        if isinstance(value, State):
            return self._state_value(value, allow)
        if isinstance(value, BaseAnnotation):
            if isinstance(value, quote):
                return value.value
            return await self.visit(value.value, allow or isinstance(value, allow_failure))
        if self.results:
            state = self.results.get(id(value))
            if state is not None:
                self._link(state.state_details.task_run_id)
        typ = type(value)
        if typ is list or typ is tuple or typ is set or typ is frozenset:
            items = [await self.visit(v, allow) for v in value]
            if all(a is b for a, b in zip(items, value)):
                return value
            return typ(items)
        if typ is dict:
            out = {}
            changed = False
            for k, v in value.items():
                nv = await self.visit(v, allow)
                changed = changed or nv is not v
                out[k] = nv
            return out if changed else value
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # namedtuple
            items = [await self.visit(v, allow) for v in value]
            return value if all(a is b for a, b in zip(items, value)) else typ(*items)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {}
            for f in dataclasses.fields(value):
                if not f.init:
                    continue
                old = getattr(value, f.name)
                new = await self.visit(old, allow)
                if new is not old:
                    changes[f.name] = new
            return dataclasses.replace(value, **changes) if changes else value
        return value

    def _state_value(self, state: State, allow: bool) -> Any:
        self._link(state.state_details.task_run_id)
        if not self.resolve:
            return state
        if state.type is StateType.COMPLETED:
            return state.result()
        if allow and state.type is StateType.FAILED:
            return state.result(raise_on_failure=False)
        raise _upstream_error(state)


async def resolve_parameters(
    parameters: dict[str, Any], task_run_results: dict | None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(resolved parameters, {parameter name: upstream task run ids}). Raises UpstreamTaskError
    when an upstream did not complete."""
    resolved: dict[str, Any] = {}
    inputs: dict[str, list[str]] = {}
    walker = _Resolver(task_run_results, True)
    for name, value in parameters.items():
        walker.inputs = []
        resolved[name] = await walker.visit(value)
        inputs[name] = walker.inputs
    return resolved, inputs


async def resolve_wait_for(wait_for: Any, task_run_results: dict | None) -> list[str]:
    walker = _Resolver(task_run_results, True)
    await walker.visit(wait_for)
    return walker.inputs


async def collect_inputs(value: Any, task_run_results: dict | None) -> list[str]:
    """Upstream ids without failing on unfinished states (for NotReady runs' records)."""
    walker = _Resolver(task_run_results, False)
    try:
        await walker.visit(value)
    except Exception:  # rebuilding an argument (a dataclass, a namedtuple) runs its own code
        log.debug("Stopped collecting upstream runs at an argument that cannot be rebuilt", exc_info=True)
    return walker.inputs


def needs_resolution(value: Any) -> bool:
    """Cheap check: does anything in the arguments need the resolver at all?"""
    if isinstance(value, _ATOMIC):
        return False
    if isinstance(value, (PrefectFuture, State, BaseAnnotation)):
        return True
    typ = type(value)
    if typ is list or typ is tuple or typ is set or typ is frozenset:
        return any(needs_resolution(v) for v in value)
    if typ is dict:
        return any(needs_resolution(v) for v in value.values())
    return True  # other objects may be linked results or dataclasses: walk them


__all__ = ["resolve_parameters", "resolve_wait_for", "collect_inputs", "is_untrackable", "unmapped"]
