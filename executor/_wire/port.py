"""`GrpcPort`: the engine's port over gRPC. Creations and proposals travel on the ProposeStates
stream (many runs multiplexed, one round trip each); everything else is a unary call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

import grpc

from cadenza.v1 import orchestrator_pb2 as opb
from cadenza.v1 import orchestrator_pb2_grpc as ogrpc
from executor import settings
from executor._port import FlowRunCreated, FlowRunSpec, RunKind, TaskRunCreated, TaskRunSpec
from executor._wire import convert as cv
from executor._wire.channel import Connection, call_metadata, open_channel
from executor._wire.stream import ProposalStream
from executor.exceptions import ObjectNotFound, OrchestratorError, OrchestratorUnreachable
from executor.objects import ConcurrencyLimit, FlowRun, LogEntry, OrchestrationResult, TaskRun
from executor.states import State, StateType

_TIMEOUT = 30.0
_PAGE_SIZE = 1000


# Calls that change nothing: repeated while the orchestrator is away (within the retry window).
_READS = frozenset(
    {
        "ReadFlowRun",
        "ListFlowRuns",
        "ReadTaskRun",
        "ListTaskRuns",
        "ReadStates",
        "ReadLogs",
        "ReadConcurrencyLimit",
        "ListConcurrencyLimits",
    }
)


class GrpcPort:
    def __init__(self, address: str, connection: Connection | None = None) -> None:
        """Construct on the engine loop: the channel belongs to the loop it is opened on.
        `connection`: the token and TLS roots to use; by default this process's settings."""
        connection = connection or Connection.from_settings(address)
        self.address = address
        self.retry_seconds = settings.orchestrator_retry_seconds()
        self._metadata = call_metadata(connection)
        self._channel = open_channel(connection)
        self._stub = ogrpc.OrchestratorStub(self._channel)
        self.stream = ProposalStream(
            lambda: self._stub.ProposeStates(metadata=self._metadata),
            address=address,
            give_up_after=self.retry_seconds,
        )
        self.lease_epoch = 0

    async def _call(self, method: str, request: Any) -> Any:
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.retry_seconds
        backoff = 0.05
        while True:
            try:
                return await getattr(self._stub, method)(request, metadata=self._metadata, timeout=_TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                if code == grpc.StatusCode.NOT_FOUND:
                    raise ObjectNotFound(exc.details()) from None
                if code != grpc.StatusCode.UNAVAILABLE:
                    raise OrchestratorError(code.name, exc.details() or "") from None
                left = give_up_at - loop.time()
                if method not in _READS or left <= 0:
                    waited = self.retry_seconds - max(left, 0.0)
                    raise OrchestratorUnreachable(self.address, exc.details() or "", waited) from None
            await asyncio.sleep(min(backoff, left))
            backoff = min(backoff * 2, 2.0)

    # -- creating runs and proposing states ---------------------------------------------------
    async def create_task_run(self, spec: TaskRunSpec) -> TaskRunCreated:
        req = cv.create_task_run_request(spec)
        if self.lease_epoch:
            req.lease_epoch = self.lease_epoch
        resp = await self.stream.request(create_task_run=req)
        run = resp.task_run
        if spec.next_state is None:
            return TaskRunCreated(run.id, resp.created, cv.state_from_pb(run.state))
        answer = cv.answer_to_proposal(resp.next_state_result, spec.next_state)
        return TaskRunCreated(run.id, resp.created, None, answer)

    async def create_flow_run(self, spec: FlowRunSpec) -> FlowRunCreated:
        req = cv.create_flow_run_request(spec)
        if self.lease_epoch:
            req.lease_epoch = self.lease_epoch
        resp = await self.stream.request(create_flow_run=req)
        answer = None
        if spec.next_state is not None and resp.HasField("next_state_result"):
            answer = cv.answer_to_proposal(resp.next_state_result, spec.next_state)
        return FlowRunCreated(cv.flow_run_from_pb(resp.flow_run), resp.created, answer)

    async def propose_state(
        self,
        kind: RunKind,
        run_id: str,
        state: State,
        *,
        force: bool = False,
        transition_id: str | None = None,
    ) -> OrchestrationResult:
        req = cv.propose_state_request(kind, run_id, state, force, transition_id)
        if self.lease_epoch:
            req.lease_epoch = self.lease_epoch
        return cv.answer_to_proposal(await self.stream.request(propose=req), state)

    # -- reading runs -------------------------------------------------------------------------
    async def _read_flow_run_pb(self, flow_run_id: str) -> opb.FlowRun:
        return (await self._call("ReadFlowRun", opb.ReadFlowRunRequest(flow_run_id=flow_run_id))).flow_run

    async def read_flow_run(self, flow_run_id: str) -> FlowRun:
        return cv.flow_run_from_pb(await self._read_flow_run_pb(flow_run_id))

    async def read_flow_runs(
        self,
        *,
        parent_task_run_id: str | None = None,
        flow_name: str | None = None,
        tags: Iterable[str] | None = None,
        state_types: Iterable[StateType] | None = None,
        deployment_id: str | None = None,
        limit: int | None = None,
    ) -> list[FlowRun]:
        req = opb.ListFlowRunsRequest(
            parent_task_run_id=parent_task_run_id or "",
            flow_name=flow_name or "",
            tags=list(tags or ()),
            state_types=cv.state_types_to_pb(state_types),
            deployment_id=deployment_id or "",
            page_size=_PAGE_SIZE,
        )
        out: list[FlowRun] = []
        while True:
            resp = await self._call("ListFlowRuns", req)
            out.extend(cv.flow_run_from_pb(m) for m in resp.flow_runs)
            if not resp.next_page_token or (limit and len(out) >= limit):
                return out[:limit] if limit else out
            req.page_token = resp.next_page_token

    async def read_task_run(self, task_run_id: str) -> TaskRun:
        resp = await self._call("ReadTaskRun", opb.ReadTaskRunRequest(task_run_id=task_run_id))
        return cv.task_run_from_pb(resp.task_run)

    async def read_task_runs(
        self,
        *,
        flow_run_id: str | None = None,
        tags: Iterable[str] | None = None,
        state_types: Iterable[StateType] | None = None,
        limit: int | None = None,
    ) -> list[TaskRun]:
        req = opb.ListTaskRunsRequest(
            flow_run_id=flow_run_id or "",
            tags=list(tags or ()),
            state_types=cv.state_types_to_pb(state_types),
            page_size=_PAGE_SIZE,
        )
        out: list[TaskRun] = []
        while True:
            resp = await self._call("ListTaskRuns", req)
            out.extend(cv.task_run_from_pb(m) for m in resp.task_runs)
            if not resp.next_page_token or (limit and len(out) >= limit):
                return out[:limit] if limit else out
            req.page_token = resp.next_page_token

    async def read_states(self, kind: RunKind, run_id: str) -> list[State]:
        req = opb.ReadStatesRequest(run_kind=cv.RUN_KINDS[kind], run_id=run_id)
        return [cv.state_from_pb(s) for s in (await self._call("ReadStates", req)).states]

    async def read_run_input(self, flow_run_id: str) -> Any:
        text = (await self._read_flow_run_pb(flow_run_id)).run_input_json
        return json.loads(text) if text else None

    # -- changing flow runs from outside the proposal loop ------------------------------------
    async def update_flow_run(
        self, flow_run_id: str, *, flow_version: str, retries: int, retry_delay_seconds: float
    ) -> None:
        req = opb.UpdateFlowRunRequest(flow_run_id=flow_run_id, flow_version=flow_version)
        req.empirical_policy.retries = retries
        req.empirical_policy.retry_delay_seconds = retry_delay_seconds
        await self._call("UpdateFlowRun", req)

    async def set_flow_run_state(
        self, flow_run_id: str, state: State, force: bool = False
    ) -> OrchestrationResult:
        req = opb.SetFlowRunStateRequest(flow_run_id=flow_run_id, state=cv.state_to_pb(state), force=force)
        return cv.answer_from_pb((await self._call("SetFlowRunState", req)).result)

    async def resume_flow_run(self, flow_run_id: str, run_input: Any = None) -> OrchestrationResult:
        req = opb.ResumeFlowRunRequest(
            flow_run_id=flow_run_id,
            run_input_json=json.dumps(run_input) if run_input is not None else "",
        )
        return cv.answer_from_pb((await self._call("ResumeFlowRun", req)).result)

    async def heartbeat(
        self, holder_id: str, flow_run_ids: list[str], lease_seconds: float
    ) -> tuple[list[str], list[str]]:
        req = opb.HeartbeatRequest(
            worker_id=holder_id, flow_run_ids=flow_run_ids, lease_seconds=lease_seconds
        )
        resp = await self._call("Heartbeat", req)
        return list(resp.cancel_requested), list(resp.lost)

    # -- logs and concurrency limits ----------------------------------------------------------
    async def write_logs(self, entries: list[LogEntry]) -> None:
        await self._call("WriteLogs", opb.WriteLogsRequest(logs=[cv.log_to_pb(e) for e in entries]))

    async def read_logs(
        self, flow_run_id: str | None = None, task_run_id: str | None = None
    ) -> list[LogEntry]:
        req = opb.ReadLogsRequest(
            flow_run_id=flow_run_id or "", task_run_id=task_run_id or "", page_size=_PAGE_SIZE
        )
        out: list[LogEntry] = []
        while True:
            resp = await self._call("ReadLogs", req)
            out.extend(cv.log_from_pb(m) for m in resp.logs)
            if not resp.next_page_token:
                return out
            req.page_token = resp.next_page_token

    async def create_concurrency_limit(self, tag: str, concurrency_limit: int) -> str:
        req = opb.CreateConcurrencyLimitRequest(tag=tag, concurrency_limit=concurrency_limit)
        return (await self._call("CreateConcurrencyLimit", req)).concurrency_limit.id

    async def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit:
        resp = await self._call("ReadConcurrencyLimit", opb.ReadConcurrencyLimitRequest(tag=tag))
        return cv.limit_from_pb(resp.concurrency_limit)

    async def read_concurrency_limits(self) -> list[ConcurrencyLimit]:
        resp = await self._call("ListConcurrencyLimits", opb.ListConcurrencyLimitsRequest())
        return [cv.limit_from_pb(m) for m in resp.concurrency_limits]

    async def delete_concurrency_limit(self, tag: str) -> None:
        await self._call("DeleteConcurrencyLimit", opb.DeleteConcurrencyLimitRequest(tag=tag))

    async def close(self) -> None:
        await self.stream.close()
        await self._channel.close()
