"""The Executor gRPC service: what other languages call to submit, watch, read, cancel and
resume flow runs. It talks to the orchestrator only through its generated stubs."""

from __future__ import annotations

import functools
import json
import logging

import grpc

from cadenza.text import fit_details
from cadenza.v1 import executor_pb2 as epb
from cadenza.v1 import executor_pb2_grpc as epb_grpc
from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb

from .catalog import FlowCatalog
from .config import ExecutorConfig
from .results import describe_result
from .submit import Refused, check_entrypoint, check_run_input, parse_parameters
from .watch import watch_flow_run

log = logging.getLogger("cadenza.executor.rpc")

_FINAL = {spb.STATE_TYPE_COMPLETED, spb.STATE_TYPE_FAILED, spb.STATE_TYPE_CRASHED, spb.STATE_TYPE_CANCELLED}


def _type_name(state: spb.State) -> str:
    return spb.StateType.Name(state.type).removeprefix("STATE_TYPE_")


def handled(method):
    """Refusals and orchestrator errors become clear statuses; nothing crashes the service."""

    @functools.wraps(method)
    async def wrapper(self, request, context):
        try:
            return await method(self, request, context)
        except Refused as exc:
            await context.abort(exc.code, fit_details(exc.message))
        except grpc.aio.AioRpcError as exc:
            details = exc.details() or ""
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                details = f"the orchestrator at {self.config.orchestrator} is unavailable: {details}"
            await context.abort(exc.code(), fit_details(details))
        except Exception:
            log.exception("%s failed", method.__name__)
            await context.abort(
                grpc.StatusCode.INTERNAL, f"{method.__name__} failed unexpectedly; see the executor log"
            )

    return wrapper


class ExecutorServicer(epb_grpc.ExecutorServicer):
    def __init__(self, stub, config: ExecutorConfig) -> None:
        self.stub = stub
        self.config = config
        self.catalog = FlowCatalog(config.allowlist)

    def _call(self, method: str, request, timeout: float = 10):
        return getattr(self.stub, method)(request, timeout=timeout, metadata=self.config.metadata())

    @handled
    async def SubmitFlowRun(self, request, context):
        parameters = parse_parameters(request.parameters_json)
        if bool(request.deployment_name) == bool(request.entrypoint):
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT, "give exactly one of deployment_name or entrypoint"
            )
        if request.deployment_name:
            dep = (
                await self._call("ReadDeployment", pb.ReadDeploymentRequest(name=request.deployment_name))
            ).deployment
            # The catalog refuses an entrypoint outside the allowlist before importing it.
            await self.catalog.check(
                dep.entrypoint, {**json.loads(dep.parameters_json or "{}"), **parameters}, dep.name
            )
            resp = await self._call(
                "CreateFlowRunFromDeployment",
                pb.CreateFlowRunFromDeploymentRequest(
                    name=request.deployment_name,
                    parameters_json=request.parameters_json,
                    tags=request.tags,
                    idempotency_key=request.idempotency_key,
                ),
            )
        else:
            _, function = check_entrypoint(request.entrypoint, self.config.allowlist)
            await self.catalog.check(request.entrypoint, parameters)
            resp = await self._call(
                "CreateFlowRun",
                pb.CreateFlowRunRequest(
                    flow_name=function,
                    parameters_json=request.parameters_json or "{}",
                    tags=request.tags,
                    idempotency_key=request.idempotency_key,
                    entrypoint=request.entrypoint,
                    state=spb.State(type=spb.STATE_TYPE_SCHEDULED, name="Scheduled"),
                ),
            )
        return epb.SubmitFlowRunResponse(flow_run_id=resp.flow_run.id, created=resp.created)

    async def WatchFlowRun(self, request, context):
        try:
            async for event in watch_flow_run(
                self.stub, self.config, request.flow_run_id, request.exclude_task_runs
            ):
                yield event
        except grpc.aio.AioRpcError as exc:
            await context.abort(exc.code(), exc.details() or "watch failed")

    @handled
    async def ReadFlowRun(self, request, context):
        run = (
            await self._call("ReadFlowRun", pb.ReadFlowRunRequest(flow_run_id=request.flow_run_id))
        ).flow_run
        has_result, result_json, note = describe_result(run.state)
        return epb.FlowRunDetails(
            flow_run=run, has_result=has_result, result_json=result_json, result_note=note
        )

    @handled
    async def CancelFlowRun(self, request, context):
        run = (
            await self._call("ReadFlowRun", pb.ReadFlowRunRequest(flow_run_id=request.flow_run_id))
        ).flow_run
        if run.state.type in _FINAL:
            raise Refused(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"flow run {run.id} is already {_type_name(run.state)}; only unfinished runs can be cancelled",
            )
        resp = await self._call(
            "SetFlowRunState",
            pb.SetFlowRunStateRequest(
                flow_run_id=run.id, state=spb.State(type=spb.STATE_TYPE_CANCELLING, name="Cancelling")
            ),
        )
        result = resp.result
        if result.status in (pb.PROPOSAL_STATUS_ABORT, pb.PROPOSAL_STATUS_WAIT):
            raise Refused(
                grpc.StatusCode.FAILED_PRECONDITION, f"flow run {run.id} cannot be cancelled: {result.reason}"
            )
        return epb.CancelFlowRunResponse(state=result.state)

    @handled
    async def ResumeFlowRun(self, request, context):
        check_run_input(request.run_input_json)
        resp = await self._call("ResumeFlowRun", request)
        result = resp.result
        if result.status == pb.PROPOSAL_STATUS_ABORT:
            raise Refused(grpc.StatusCode.FAILED_PRECONDITION, result.reason or "the flow run is not paused")
        if result.status == pb.PROPOSAL_STATUS_REJECT and result.state.type == spb.STATE_TYPE_FAILED:
            raise Refused(
                grpc.StatusCode.FAILED_PRECONDITION, f"the pause had timed out: {result.state.message}"
            )
        return resp

    @handled
    async def ListFlowRuns(self, request, context):
        return await self._call("ListFlowRuns", request)

    @handled
    async def ListDeployments(self, request, context):
        return await self._call("ListDeployments", request)
