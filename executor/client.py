"""Clients of the orchestrator, with Prefect 2's method names, over the engine's port.
`AsyncClient` runs on the engine loop; `get_client()` returns the synchronous facade users
call from any thread. Both return the plain records of executor.objects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from executor import _logship
from executor._port import OrchestratorPort, RunKind
from executor.objects import ConcurrencyLimit, FlowRun, LogEntry, OrchestrationResult, TaskRun
from executor.states import State, StateType

__all__ = ["AsyncClient", "SyncClient", "get_client", "OrchestrationResult"]


class AsyncClient:
    def __init__(self, port: OrchestratorPort) -> None:
        self._port = port

    # -- runs ---------------------------------------------------------------------------------
    async def read_flow_run(self, flow_run_id: str) -> FlowRun:
        return await self._port.read_flow_run(str(flow_run_id))

    async def read_flow_runs(
        self,
        *,
        parent_task_run_id: str | None = None,
        flow_name: str | None = None,
        tags: Iterable[str] | None = None,
        state_types: Iterable[StateType | str] | None = None,
        deployment_id: str | None = None,
        limit: int | None = None,
    ) -> list[FlowRun]:
        return await self._port.read_flow_runs(
            parent_task_run_id=parent_task_run_id,
            flow_name=flow_name,
            tags=tags,
            state_types=_state_types(state_types),
            deployment_id=deployment_id,
            limit=limit,
        )

    async def read_task_run(self, task_run_id: str) -> TaskRun:
        return await self._port.read_task_run(str(task_run_id))

    async def read_task_runs(
        self,
        *,
        flow_run_id: str | None = None,
        tags: Iterable[str] | None = None,
        state_types: Iterable[StateType | str] | None = None,
        limit: int | None = None,
    ) -> list[TaskRun]:
        return await self._port.read_task_runs(
            flow_run_id=flow_run_id, tags=tags, state_types=_state_types(state_types), limit=limit
        )

    async def read_flow_run_states(self, flow_run_id: str) -> list[State]:
        return await self._port.read_states(RunKind.FLOW, str(flow_run_id))

    async def read_task_run_states(self, task_run_id: str) -> list[State]:
        return await self._port.read_states(RunKind.TASK, str(task_run_id))

    async def set_flow_run_state(
        self, flow_run_id: str, state: State, force: bool = False
    ) -> OrchestrationResult:
        return await self._port.set_flow_run_state(str(flow_run_id), state, force)

    async def resume_flow_run(self, flow_run_id: str, run_input: Any = None) -> OrchestrationResult:
        return await self._port.resume_flow_run(str(flow_run_id), run_input)

    # -- concurrency limits -------------------------------------------------------------------
    async def create_concurrency_limit(self, tag: str, concurrency_limit: int) -> str:
        return await self._port.create_concurrency_limit(tag, concurrency_limit)

    async def read_concurrency_limit_by_tag(self, tag: str) -> ConcurrencyLimit:
        return await self._port.read_concurrency_limit(tag)

    async def read_concurrency_limits(self) -> list[ConcurrencyLimit]:
        return await self._port.read_concurrency_limits()

    async def delete_concurrency_limit_by_tag(self, tag: str) -> None:
        await self._port.delete_concurrency_limit(tag)

    # -- logs ---------------------------------------------------------------------------------
    async def write_logs(self, entries: list[LogEntry]) -> None:
        await self._port.write_logs(entries)

    async def read_logs(
        self, flow_run_id: str | None = None, task_run_id: str | None = None
    ) -> list[LogEntry]:
        await _logship.flush(self._port)  # so a run's own logs are readable right after it ends
        return await self._port.read_logs(
            str(flow_run_id) if flow_run_id else None, str(task_run_id) if task_run_id else None
        )


def _state_types(types: Iterable[StateType | str] | None) -> list[StateType] | None:
    return [StateType(t) for t in types] if types is not None else None


class SyncClient:
    """Blocking facade over AsyncClient: each method runs on the engine loop."""

    def __init__(self) -> None:
        from executor._runtime import get_runtime

        self._runtime = get_runtime()
        self._client = AsyncClient(self._runtime.port)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method) or name.startswith("_"):
            return method
        runtime = self._runtime

        def call(*args: Any, **kwargs: Any) -> Any:
            return runtime.run(method(*args, **kwargs))

        call.__name__ = name
        return call

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


def get_client() -> SyncClient:
    return SyncClient()
