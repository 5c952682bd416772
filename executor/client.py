"""Clients of the orchestrator. `AsyncClient` runs on the engine loop; `get_client()` returns the
synchronous facade users call from any thread (method names mirror Prefect 2's client).
Protobuf is converted (executor._convert) to the plain records of executor.objects right here."""

from __future__ import annotations

import json
from typing import Any, Iterable

import grpc
from cadenza.v1 import orchestrator_pb2 as opb

from executor import _convert as cv
from executor.exceptions import ObjectNotFound
from executor.objects import ConcurrencyLimit, FlowRun, LogEntry, OrchestrationResult, ProposalStatus, TaskRun
from executor.states import State, StateType

_STATUS = {
    opb.PROPOSAL_STATUS_ACCEPT: ProposalStatus.ACCEPT,
    opb.PROPOSAL_STATUS_REJECT: ProposalStatus.REJECT,
    opb.PROPOSAL_STATUS_WAIT: ProposalStatus.WAIT,
    opb.PROPOSAL_STATUS_ABORT: ProposalStatus.ABORT,
}
_TIMEOUT = 30.0


def orchestration_result(resp: opb.ProposeStateResponse) -> OrchestrationResult:
    return OrchestrationResult(
        _STATUS.get(resp.status, ProposalStatus.UNSPECIFIED),
        cv.state_from_pb(resp.state) if resp.HasField("state") else None,
        resp.reason,
        resp.delay_seconds,
        resp.run_count,
    )


def _state_types(types: Iterable[StateType | str] | None) -> list[int]:
    return [cv.state_type_to_pb(StateType(t)) for t in types or ()]


class AsyncClient:
    def __init__(self, stub: Any, stream: Any, metadata: Any) -> None:
        self.stub = stub
        self.stream = stream
        self.metadata = metadata

    async def _call(self, method: str, request: Any) -> Any:
        try:
            return await getattr(self.stub, method)(request, metadata=self.metadata, timeout=_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise ObjectNotFound(exc.details()) from None
            raise

    # -- runs ---------------------------------------------------------------------------------
    async def read_flow_run(self, flow_run_id: str) -> FlowRun:
        resp = await self._call("ReadFlowRun", opb.ReadFlowRunRequest(flow_run_id=str(flow_run_id)))
        return cv.flow_run_from_pb(resp.flow_run)

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
        req = opb.ListFlowRunsRequest(
            parent_task_run_id=parent_task_run_id or "",
            flow_name=flow_name or "",
            tags=list(tags or ()),
            state_types=_state_types(state_types),
            deployment_id=deployment_id or "",
            page_size=1000,
        )
        out: list[FlowRun] = []
        while True:
            resp = await self._call("ListFlowRuns", req)
            out.extend(cv.flow_run_from_pb(m) for m in resp.flow_runs)
            if not resp.next_page_token or (limit and len(out) >= limit):
                return out[:limit] if limit else out
            req.page_token = resp.next_page_token

    async def read_task_run(self, task_run_id: str) -> TaskRun:
        resp = await self._call("ReadTaskRun", opb.ReadTaskRunRequest(task_run_id=str(task_run_id)))
        return cv.task_run_from_pb(resp.task_run)

    async def read_task_runs(
        self,
        *,
        flow_run_id: str | None = None,
        tags: Iterable[str] | None = None,
        state_types: Iterable[StateType | str] | None = None,
        limit: int | None = None,
    ) -> list[TaskRun]:
        req = opb.ListTaskRunsRequest(
            flow_run_id=flow_run_id or "",
            tags=list(tags or ()),
            state_types=_state_types(state_types),
            page_size=1000,
        )
        out: list[TaskRun] = []
        while True:
            resp = await self._call("ListTaskRuns", req)
            out.extend(cv.task_run_from_pb(m) for m in resp.task_runs)
            if not resp.next_page_token or (limit and len(out) >= limit):
                return out[:limit] if limit else out
            req.page_token = resp.next_page_token

    async def _read_states(self, kind: int, run_id: str) -> list[State]:
        resp = await self._call("ReadStates", opb.ReadStatesRequest(run_kind=kind, run_id=str(run_id)))
        return [cv.state_from_pb(s) for s in resp.states]

    async def read_flow_run_states(self, flow_run_id: str) -> list[State]:
        return await self._read_states(opb.RUN_KIND_FLOW, flow_run_id)

    async def read_task_run_states(self, task_run_id: str) -> list[State]:
        return await self._read_states(opb.RUN_KIND_TASK, task_run_id)

    async def set_flow_run_state(
        self, flow_run_id: str, state: State, force: bool = False
    ) -> OrchestrationResult:
        req = opb.SetFlowRunStateRequest(
            flow_run_id=str(flow_run_id), state=cv.state_to_pb(state), force=force
        )
        resp = await self._call("SetFlowRunState", req)
        return orchestration_result(resp.result)

    async def resume_flow_run(self, flow_run_id: str, run_input: Any = None) -> OrchestrationResult:
        req = opb.ResumeFlowRunRequest(
            flow_run_id=str(flow_run_id),
            run_input_json=json.dumps(run_input) if run_input is not None else "",
        )
        resp = await self._call("ResumeFlowRun", req)
        return orchestration_result(resp.result)

    # -- concurrency limits -------------------------------------------------------------------
    async def create_concurrency_limit(self, tag: str, concurrency_limit: int) -> str:
        req = opb.CreateConcurrencyLimitRequest(tag=tag, concurrency_limit=concurrency_limit)
        resp = await self._call("CreateConcurrencyLimit", req)
        return resp.concurrency_limit.id

    async def read_concurrency_limit_by_tag(self, tag: str) -> ConcurrencyLimit:
        resp = await self._call("ReadConcurrencyLimit", opb.ReadConcurrencyLimitRequest(tag=tag))
        return cv.limit_from_pb(resp.concurrency_limit)

    async def read_concurrency_limits(self) -> list[ConcurrencyLimit]:
        resp = await self._call("ListConcurrencyLimits", opb.ListConcurrencyLimitsRequest())
        return [cv.limit_from_pb(m) for m in resp.concurrency_limits]

    async def delete_concurrency_limit_by_tag(self, tag: str) -> None:
        await self._call("DeleteConcurrencyLimit", opb.DeleteConcurrencyLimitRequest(tag=tag))

    # -- logs ---------------------------------------------------------------------------------
    async def write_logs(self, entries: list[opb.LogEntry]) -> None:
        await self._call("WriteLogs", opb.WriteLogsRequest(logs=entries))

    async def read_logs(self, flow_run_id: str | None = None, task_run_id: str | None = None) -> list[LogEntry]:
        from executor.loggers import flush_logs_async

        await flush_logs_async()  # so a run's own logs are readable right after it ends
        req = opb.ReadLogsRequest(
            flow_run_id=str(flow_run_id or ""), task_run_id=str(task_run_id or ""), page_size=1000
        )
        out: list[LogEntry] = []
        while True:
            resp = await self._call("ReadLogs", req)
            out.extend(cv.log_from_pb(m) for m in resp.logs)
            if not resp.next_page_token:
                return out
            req.page_token = resp.next_page_token


class SyncClient:
    """Blocking facade over AsyncClient: each method runs on the engine loop."""

    def __init__(self) -> None:
        from executor._runtime import get_runtime

        self._runtime = get_runtime()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._runtime.client, name)
        if not callable(method) or name.startswith("_"):
            return method
        runtime = self._runtime

        def call(*args: Any, **kwargs: Any) -> Any:
            return runtime.run(method(*args, **kwargs))

        call.__name__ = name
        return call

    def __enter__(self) -> "SyncClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


def get_client() -> SyncClient:
    return SyncClient()
