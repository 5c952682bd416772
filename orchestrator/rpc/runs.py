"""The RPCs on runs: create, read, list, propose, resume, force a state, update."""

from __future__ import annotations

from cadenza.documents import DocumentError, parse_run_input
from cadenza.v1 import orchestrator_pb2 as pb

from ..app import Orchestrator
from ..app.errors import InvalidArgument
from ..core.models import Proposal
from ..store.base import FlowRunFilter
from . import checks, convert, requests
from .status import unary


class RunsRpc:
    orchestrator: Orchestrator

    @unary
    async def CreateFlowRun(self, request, context):
        return await self.create_flow_run(request)

    async def create_flow_run(self, request: pb.CreateFlowRunRequest) -> pb.CreateFlowRunResponse:
        run, initial, nxt = requests.new_flow_run(request)
        run, created, answer = await self.orchestrator.runs.create_flow_run(
            run, initial, nxt, request.lease_epoch
        )
        return pb.CreateFlowRunResponse(
            flow_run=convert.flow_run_to_pb(run),
            created=created,
            next_state_result=requests.answer_pb(answer) if answer else None,
        )

    @unary
    async def ReadFlowRun(self, request, context):
        run = self.orchestrator.runs.read_flow_run(convert.run_id(request.flow_run_id, "flow_run_id"))
        return pb.ReadFlowRunResponse(flow_run=convert.flow_run_to_pb(run))

    @unary
    async def ListFlowRuns(self, request, context):
        flt = FlowRunFilter(
            state_types=requests.state_types(request.state_types, "state_types"),
            tags=checks.tags(request.tags, "tags"),
            parent_task_run_id=convert.optional_run_id(request.parent_task_run_id, "parent_task_run_id"),
            flow_name=request.flow_name,
            deployment_id=request.deployment_id,
        )
        page = await self.orchestrator.runs.list_flow_runs(flt, request.page_size, request.page_token)
        return pb.ListFlowRunsResponse(
            flow_runs=[convert.listed(convert.flow_run_to_pb(r)) for r in page.items],
            next_page_token=page.next_token,
        )

    @unary
    async def CreateTaskRun(self, request, context):
        return await self.create_task_run(request)

    async def create_task_run(self, request: pb.CreateTaskRunRequest) -> pb.CreateTaskRunResponse:
        run, initial, nxt = requests.new_task_run(request)
        run, created, answer = await self.orchestrator.runs.create_task_run(
            run, initial, nxt, request.lease_epoch
        )
        return pb.CreateTaskRunResponse(
            task_run=convert.task_run_to_pb(run),
            created=created,
            next_state_result=requests.answer_pb(answer) if answer else None,
        )

    @unary
    async def ReadTaskRun(self, request, context):
        run = self.orchestrator.runs.read_task_run(convert.run_id(request.task_run_id, "task_run_id"))
        return pb.ReadTaskRunResponse(task_run=convert.task_run_to_pb(run))

    @unary
    async def ListTaskRuns(self, request, context):
        page = await self.orchestrator.runs.list_task_runs(
            convert.optional_run_id(request.flow_run_id, "flow_run_id"),
            requests.state_types(request.state_types, "state_types"),
            request.page_size,
            request.page_token,
        )
        runs = page.items
        if request.tags:
            wanted = set(checks.tags(request.tags, "tags"))
            runs = [r for r in runs if wanted.issubset(r.tags)]
        return pb.ListTaskRunsResponse(
            task_runs=[convert.listed(convert.task_run_to_pb(r)) for r in runs],
            next_page_token=page.next_token,
        )

    @unary
    async def ReadStates(self, request, context):
        kind = requests.run_kind(request.run_kind)
        states = await self.orchestrator.runs.read_states(kind, convert.run_id(request.run_id, "run_id"))
        return pb.ReadStatesResponse(states=[convert.state_to_pb(s) for s in states])

    @unary
    async def ProposeState(self, request, context):
        kind, run_id, proposal = requests.proposal(request)
        return requests.answer_pb(await self.orchestrator.proposals.propose(kind, run_id, proposal))

    @unary
    async def ResumeFlowRun(self, request, context):
        flow_run_id = convert.run_id(request.flow_run_id, "flow_run_id")
        try:
            parse_run_input(request.run_input_json)
        except DocumentError as exc:
            raise InvalidArgument(str(exc)) from None
        answer = await self.orchestrator.pauses.resume(flow_run_id, request.run_input_json)
        return pb.ResumeFlowRunResponse(result=requests.answer_pb(answer))

    @unary
    async def SetFlowRunState(self, request, context):
        flow_run_id = convert.run_id(request.flow_run_id, "flow_run_id")
        if not request.HasField("state"):
            raise InvalidArgument("state is required")
        proposal = Proposal(convert.state_from_pb(request.state), force=request.force)
        answer = await self.orchestrator.proposals.propose("flow", flow_run_id, proposal)
        return pb.SetFlowRunStateResponse(result=requests.answer_pb(answer))

    @unary
    async def UpdateFlowRun(self, request, context):
        flow_run_id = convert.run_id(request.flow_run_id, "flow_run_id")
        policy = None
        if request.HasField("empirical_policy"):
            policy = convert.flow_run_policy_from_pb(request.empirical_policy)
        run = await self.orchestrator.runs.update_flow_run(flow_run_id, request.flow_version, policy)
        return pb.UpdateFlowRunResponse(flow_run=convert.flow_run_to_pb(run))
