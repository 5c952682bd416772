"""gRPC adapter: decode protobuf, call the service, encode the answer, map errors to codes."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from datetime import datetime, timezone

import grpc

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc

from . import convert
from .core.models import FlowRun, Proposal, TaskRun
from .deployments import DeploymentService, check_entrypoint
from .errors import InvalidArgument, ServiceError
from .service import Answer, OrchestratorService
from .store.base import FlowRunFilter
from .watch import LogEvent, StateEvent
from .workers import WorkerService

log = logging.getLogger("cadenza.orchestrator.rpc")

_KINDS = {pb.RUN_KIND_FLOW: "flow", pb.RUN_KIND_TASK: "task"}
_KINDS_PB = {v: k for k, v in _KINDS.items()}


def _run_kind(value: int) -> str:
    try:
        return _KINDS[value]
    except KeyError:
        raise InvalidArgument("run_kind is required (RUN_KIND_FLOW or RUN_KIND_TASK)") from None


def _state_types(values, field: str) -> list[str]:
    return [convert.state_type(v, field).value for v in values]


def unary(method):
    """Map service errors to status codes; an unexpected error is INTERNAL, never a crash."""

    @functools.wraps(method)
    async def wrapper(self, request, context):
        try:
            return await method(self, request, context)
        except ServiceError as exc:
            await context.abort(exc.code, exc.message)
        except Exception:
            log.exception("%s failed", method.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, f"{method.__name__} failed unexpectedly; see the orchestrator log")

    return wrapper


def _answer_pb(answer: Answer) -> pb.ProposeStateResponse:
    return convert.decision_to_pb(answer.decision, answer.run_count)


def _proposal(msg: pb.ProposeStateRequest) -> tuple[str, str, Proposal]:
    kind = _run_kind(msg.run_kind)
    run_id = convert.run_id(msg.run_id, "run_id")
    if not msg.HasField("state"):
        raise InvalidArgument("state is required")
    state = convert.state_from_pb(msg.state)
    return kind, run_id, Proposal(state, force=msg.force, expected_state_id=msg.expected_state_id)


def _new_flow_run(msg: pb.CreateFlowRunRequest) -> tuple[FlowRun, object]:
    if not msg.flow_name:
        raise InvalidArgument("flow_name is required")
    run = FlowRun(
        name=msg.name,
        flow_name=msg.flow_name,
        flow_version=msg.flow_version,
        parameters_json=msg.parameters_json or "{}",
        tags=list(dict.fromkeys(msg.tags)),
        parent_task_run_id=convert.optional_run_id(msg.parent_task_run_id, "parent_task_run_id"),
        deployment_id=msg.deployment_id,
        idempotency_key=msg.idempotency_key,
        empirical_policy=convert.flow_run_policy_from_pb(msg.empirical_policy),
        entrypoint=msg.entrypoint,
    )
    if msg.entrypoint:
        check_entrypoint(msg.entrypoint)
    initial = convert.state_from_pb(msg.state) if msg.HasField("state") else None
    return run, initial


def _new_task_run(msg: pb.CreateTaskRunRequest):
    if not msg.task_key:
        raise InvalidArgument("task_key is required")
    run = TaskRun(
        name=msg.name,
        flow_run_id=convert.run_id(msg.flow_run_id, "flow_run_id"),
        task_key=msg.task_key,
        dynamic_key=msg.dynamic_key,
        task_version=msg.task_version,
        tags=list(dict.fromkeys(msg.tags)),
        task_inputs=convert.task_inputs_from_pb(msg.task_inputs),
        idempotency_key=msg.idempotency_key,
        empirical_policy=convert.task_run_policy_from_pb(msg.empirical_policy),
    )
    initial = convert.state_from_pb(msg.state) if msg.HasField("state") else None
    nxt = convert.state_from_pb(msg.next_state, "next_state") if msg.HasField("next_state") else None
    return run, initial, nxt


class OrchestratorServicer(pb_grpc.OrchestratorServicer):
    def __init__(self, service: OrchestratorService, deployments: DeploymentService, workers: WorkerService) -> None:
        self.service = service
        self.deployments = deployments
        self.workers = workers

    # -- runs -----------------------------------------------------------------------------
    @unary
    async def CreateFlowRun(self, request, context):
        return await self._create_flow_run(request)

    async def _create_flow_run(self, request) -> pb.CreateFlowRunResponse:
        run, initial = _new_flow_run(request)
        nxt = convert.state_from_pb(request.next_state, "next_state") if request.HasField("next_state") else None
        run, created, answer = await self.service.create_flow_run(run, initial, nxt)
        return pb.CreateFlowRunResponse(
            flow_run=convert.flow_run_to_pb(run),
            created=created,
            next_state_result=_answer_pb(answer) if answer else None,
        )

    @unary
    async def ReadFlowRun(self, request, context):
        run = self.service.read_flow_run(convert.run_id(request.flow_run_id, "flow_run_id"))
        return pb.ReadFlowRunResponse(flow_run=convert.flow_run_to_pb(run))

    @unary
    async def ListFlowRuns(self, request, context):
        flt = FlowRunFilter(
            state_types=_state_types(request.state_types, "state_types"),
            tags=list(request.tags),
            parent_task_run_id=convert.optional_run_id(request.parent_task_run_id, "parent_task_run_id"),
            flow_name=request.flow_name,
            deployment_id=request.deployment_id,
        )
        page = await self.service.list_flow_runs(flt, request.page_size, request.page_token)
        return pb.ListFlowRunsResponse(
            flow_runs=[convert.flow_run_to_pb(r) for r in page.items], next_page_token=page.next_token
        )

    @unary
    async def CreateTaskRun(self, request, context):
        return await self._create_task_run(request)

    async def _create_task_run(self, request) -> pb.CreateTaskRunResponse:
        run, initial, nxt = _new_task_run(request)
        run, created, answer = await self.service.create_task_run(run, initial, nxt)
        return pb.CreateTaskRunResponse(
            task_run=convert.task_run_to_pb(run),
            created=created,
            next_state_result=_answer_pb(answer) if answer else None,
        )

    @unary
    async def ReadTaskRun(self, request, context):
        run = self.service.read_task_run(convert.run_id(request.task_run_id, "task_run_id"))
        return pb.ReadTaskRunResponse(task_run=convert.task_run_to_pb(run))

    @unary
    async def ListTaskRuns(self, request, context):
        page = await self.service.list_task_runs(
            convert.optional_run_id(request.flow_run_id, "flow_run_id"),
            _state_types(request.state_types, "state_types"),
            request.page_size,
            request.page_token,
        )
        runs = page.items
        if request.tags:
            wanted = set(request.tags)
            runs = [r for r in runs if wanted.issubset(r.tags)]
        return pb.ListTaskRunsResponse(
            task_runs=[convert.task_run_to_pb(r) for r in runs], next_page_token=page.next_token
        )

    @unary
    async def ReadStates(self, request, context):
        kind = _run_kind(request.run_kind)
        states = await self.service.read_states(kind, convert.run_id(request.run_id, "run_id"))
        return pb.ReadStatesResponse(states=[convert.state_to_pb(s) for s in states])

    # -- proposals ------------------------------------------------------------------------
    @unary
    async def ProposeState(self, request, context):
        kind, run_id, proposal = _proposal(request)
        return _answer_pb(await self.service.propose(kind, run_id, proposal))

    async def ProposeStates(self, request_iterator, context):
        """Answer each request as soon as it is decided and durable, tagged with its id."""
        out: asyncio.Queue = asyncio.Queue()
        pending: set[asyncio.Task] = set()
        packing = [False]  # set once the client has sent an envelope

        async def handle(msg: pb.ProposeStatesRequest) -> None:
            resp = pb.ProposeStatesResponse(request_id=msg.request_id)
            try:
                which = msg.WhichOneof("request")
                if which == "propose":
                    kind, run_id, proposal = _proposal(msg.propose)
                    resp.proposal.CopyFrom(_answer_pb(await self.service.propose(kind, run_id, proposal)))
                elif which == "create_task_run":
                    resp.task_run_created.CopyFrom(await self._create_task_run(msg.create_task_run))
                elif which == "create_flow_run":
                    resp.flow_run_created.CopyFrom(await self._create_flow_run(msg.create_flow_run))
                else:
                    raise InvalidArgument("request is empty: set propose, create_task_run or create_flow_run")
            except ServiceError as exc:
                resp.error.code = exc.code.value[0]
                resp.error.message = exc.message
            except Exception as exc:
                log.exception("stream request %s failed", msg.request_id)
                resp.error.code = grpc.StatusCode.INTERNAL.value[0]
                resp.error.message = f"request failed unexpectedly: {exc.__class__.__name__}"
            out.put_nowait(resp)

        def start(msg: pb.ProposeStatesRequest) -> None:
            task = asyncio.create_task(handle(msg))
            pending.add(task)
            task.add_done_callback(pending.discard)

        async def read_requests() -> None:
            try:
                async for msg in request_iterator:
                    if msg.WhichOneof("request") is not None or not msg.more:
                        start(msg)
                    if msg.more:
                        packing[0] = True  # this client reads envelopes: answer in them too
                    for extra in msg.more:
                        start(extra)
                if pending:
                    await asyncio.gather(*list(pending), return_exceptions=True)
            finally:
                out.put_nowait(None)

        reader = asyncio.create_task(read_requests())
        try:
            while True:
                resp = await out.get()
                if resp is None:
                    break
                if out.empty() or not packing[0]:
                    yield resp
                    continue
                # Answers ready together leave in one envelope message.
                envelope = pb.ProposeStatesResponse()
                envelope.more.append(resp)
                finished = False
                while not out.empty():
                    extra = out.get_nowait()
                    if extra is None:
                        finished = True
                        break
                    envelope.more.append(extra)
                yield envelope
                if finished:
                    break
        finally:
            reader.cancel()

    # -- watch ------------------------------------------------------------------------------
    async def WatchFlowRun(self, request, context):
        try:
            flow_run_id = convert.run_id(request.flow_run_id, "flow_run_id")
            run = self.service.read_flow_run(flow_run_id)
        except ServiceError as exc:
            await context.abort(exc.code, exc.message)
            return
        await self.service.store.flush()
        queue = self.service.hub.subscribe(flow_run_id)
        sequence = 0
        last_sent: dict[str, str] = {}
        try:
            tasks = []
            if not request.exclude_task_runs:
                token = ""
                while True:
                    page = await self.service.list_task_runs(flow_run_id, [], 1000, token)
                    tasks += page.items
                    token = page.next_token
                    if not token:
                        break
            # No await from here until the snapshot is taken: a change is applied in memory
            # before it is published, so the state changes already queued are no newer than
            # the states read now. Replaying them after the snapshot would show runs going back.
            queued = []
            while not queue.empty():
                queued.append(queue.get_nowait())
            run = self.service.read_flow_run(flow_run_id)
            snapshot = [StateEvent("flow", run.id, run.name, run.id, run.state)]
            snapshot += [StateEvent("task", t.id, t.name, flow_run_id, t.state) for t in tasks]
            covered = {event.run_id for event in snapshot}
            for event in queued:
                if not (isinstance(event, StateEvent) and event.run_id in covered):
                    queue.put_nowait(event)
            for event in snapshot:
                if event.state is None:
                    continue
                sequence += 1
                last_sent[event.run_id] = event.state.id
                yield self._event_pb(event, sequence, snapshot=True, terminal=False)
            if run.state is not None and run.state.is_final():
                sequence += 1
                yield pb.WatchFlowRunResponse(sequence=sequence, terminal=True)
                return
            while True:
                event = await queue.get()
                if isinstance(event, StateEvent):
                    if request.exclude_task_runs and event.run_kind == "task":
                        continue
                    if last_sent.get(event.run_id) == event.state.id:
                        continue
                    last_sent[event.run_id] = event.state.id
                sequence += 1
                terminal = (
                    isinstance(event, StateEvent)
                    and event.run_id == flow_run_id
                    and event.state.is_final()
                )
                yield self._event_pb(event, sequence, snapshot=False, terminal=terminal)
                if terminal:
                    return
        finally:
            self.service.hub.unsubscribe(flow_run_id, queue)

    @staticmethod
    def _event_pb(event, sequence: int, snapshot: bool, terminal: bool) -> pb.WatchFlowRunResponse:
        if isinstance(event, LogEvent):
            return pb.WatchFlowRunResponse(sequence=sequence, log=_log_pb(event.entry), snapshot=snapshot)
        return pb.WatchFlowRunResponse(
            sequence=sequence,
            state_change=pb.RunStateChange(
                run_kind=_KINDS_PB[event.run_kind],
                run_id=event.run_id,
                run_name=event.run_name,
                flow_run_id=event.flow_run_id,
                state=convert.state_to_pb(event.state),
            ),
            snapshot=snapshot,
            terminal=terminal,
        )

    # -- concurrency limits -----------------------------------------------------------------
    @unary
    async def CreateConcurrencyLimit(self, request, context):
        limit = await self.service.create_concurrency_limit(request.tag, request.concurrency_limit)
        return pb.CreateConcurrencyLimitResponse(concurrency_limit=convert.limit_to_pb(limit))

    @unary
    async def ReadConcurrencyLimit(self, request, context):
        limit = self.service.read_concurrency_limit(request.tag)
        return pb.ReadConcurrencyLimitResponse(concurrency_limit=convert.limit_to_pb(limit))

    @unary
    async def ListConcurrencyLimits(self, request, context):
        limits = self.service.list_concurrency_limits()
        return pb.ListConcurrencyLimitsResponse(concurrency_limits=[convert.limit_to_pb(l) for l in limits])

    @unary
    async def DeleteConcurrencyLimit(self, request, context):
        await self.service.delete_concurrency_limit(request.tag)
        return pb.DeleteConcurrencyLimitResponse()

    # -- resume and forced states -----------------------------------------------------------
    @unary
    async def ResumeFlowRun(self, request, context):
        flow_run_id = convert.run_id(request.flow_run_id, "flow_run_id")
        if request.run_input_json:
            try:
                json.loads(request.run_input_json)
            except ValueError as exc:
                raise InvalidArgument(f"run_input_json is not valid JSON: {exc}") from None
        answer = await self.service.resume_flow_run(flow_run_id, request.run_input_json)
        return pb.ResumeFlowRunResponse(result=_answer_pb(answer))

    @unary
    async def SetFlowRunState(self, request, context):
        flow_run_id = convert.run_id(request.flow_run_id, "flow_run_id")
        if not request.HasField("state"):
            raise InvalidArgument("state is required")
        proposal = Proposal(convert.state_from_pb(request.state), force=request.force)
        answer = await self.service.propose("flow", flow_run_id, proposal)
        return pb.SetFlowRunStateResponse(result=_answer_pb(answer))

    # -- logs -------------------------------------------------------------------------------
    @unary
    async def WriteLogs(self, request, context):
        entries = []
        for i, entry in enumerate(request.logs):
            entries.append(
                {
                    "flow_run_id": convert.run_id(entry.flow_run_id, f"logs[{i}].flow_run_id"),
                    "task_run_id": convert.optional_run_id(entry.task_run_id, f"logs[{i}].task_run_id"),
                    "logger_name": entry.logger_name,
                    "level": entry.level,
                    "message": entry.message,
                    "timestamp": convert.dt(entry.timestamp).isoformat()
                    if entry.HasField("timestamp") else None,
                }
            )
        await self.service.write_logs(entries)
        return pb.WriteLogsResponse()

    @unary
    async def ReadLogs(self, request, context):
        page = await self.service.read_logs(
            convert.run_id(request.flow_run_id, "flow_run_id"),
            convert.optional_run_id(request.task_run_id, "task_run_id"),
            request.page_size,
            request.page_token,
        )
        return pb.ReadLogsResponse(logs=[_log_pb(e) for e in page.items], next_page_token=page.next_token)

    # -- deployments ------------------------------------------------------------------------
    @unary
    async def CreateDeployment(self, request, context):
        dep, created = await self.deployments.create(convert.deployment_from_pb(request))
        return pb.CreateDeploymentResponse(deployment=convert.deployment_to_pb(dep), created=created)

    @unary
    async def ReadDeployment(self, request, context):
        dep = self.deployments.read(request.deployment_id, request.name)
        return pb.ReadDeploymentResponse(deployment=convert.deployment_to_pb(dep))

    @unary
    async def ListDeployments(self, request, context):
        return pb.ListDeploymentsResponse(deployments=[convert.deployment_to_pb(d) for d in self.deployments.list()])

    @unary
    async def DeleteDeployment(self, request, context):
        if not request.name:
            raise InvalidArgument("name is required")
        await self.deployments.delete(request.name)
        return pb.DeleteDeploymentResponse()

    @unary
    async def CreateFlowRunFromDeployment(self, request, context):
        dep = self.deployments.read(request.deployment_id, request.name)
        when = convert.dt(request.scheduled_time) if request.HasField("scheduled_time") else None
        run, created = await self.deployments.create_flow_run(
            dep, request.parameters_json, list(request.tags), request.idempotency_key, when, request.flow_run_name
        )
        return pb.CreateFlowRunResponse(flow_run=convert.flow_run_to_pb(run), created=created)

    # -- workers ----------------------------------------------------------------------------
    @unary
    async def ClaimFlowRuns(self, request, context):
        runs = await self.workers.claim(request.worker_id, request.limit, request.lease_seconds, request.wait_seconds)
        return pb.ClaimFlowRunsResponse(flow_runs=[convert.flow_run_to_pb(r) for r in runs])

    @unary
    async def UpdateFlowRun(self, request, context):
        flow_run_id = convert.run_id(request.flow_run_id, "flow_run_id")
        policy = convert.flow_run_policy_from_pb(request.empirical_policy) if request.HasField("empirical_policy") else None
        run = await self.service.update_flow_run(flow_run_id, request.flow_version, policy)
        return pb.UpdateFlowRunResponse(flow_run=convert.flow_run_to_pb(run))

    @unary
    async def Heartbeat(self, request, context):
        cancel, lost = await self.workers.heartbeat(request.worker_id, list(request.flow_run_ids), request.lease_seconds)
        return pb.HeartbeatResponse(cancel_requested=cancel, lost=lost)


def _log_pb(entry: dict) -> pb.LogEntry:
    stamp = entry.get("timestamp")
    return pb.LogEntry(
        flow_run_id=entry["flow_run_id"],
        task_run_id=entry["task_run_id"],
        logger_name=entry["logger_name"],
        level=entry["level"],
        message=entry["message"],
        timestamp=convert.ts(datetime.fromisoformat(stamp).astimezone(timezone.utc)) if stamp else None,
    )


__all__ = ["OrchestratorServicer"]
