"""The RPCs on what runs use: concurrency limits, log lines, deployments, and workers' leases."""

from __future__ import annotations

from cadenza.v1 import orchestrator_pb2 as pb

from ..app import Orchestrator
from ..app.errors import InvalidArgument
from . import checks, convert, requests
from .status import unary


class ResourcesRpc:
    orchestrator: Orchestrator

    # -- concurrency limits -----------------------------------------------------------------
    @unary
    async def CreateConcurrencyLimit(self, request, context):
        limit = await self.orchestrator.limits.create(request.tag, request.concurrency_limit)
        return pb.CreateConcurrencyLimitResponse(concurrency_limit=convert.limit_to_pb(limit))

    @unary
    async def ReadConcurrencyLimit(self, request, context):
        limit = self.orchestrator.limits.read(request.tag)
        return pb.ReadConcurrencyLimitResponse(concurrency_limit=convert.limit_to_pb(limit))

    @unary
    async def ListConcurrencyLimits(self, request, context):
        limits = self.orchestrator.limits.all()
        return pb.ListConcurrencyLimitsResponse(
            concurrency_limits=[convert.limit_to_pb(lim) for lim in limits]
        )

    @unary
    async def DeleteConcurrencyLimit(self, request, context):
        await self.orchestrator.limits.delete(request.tag)
        return pb.DeleteConcurrencyLimitResponse()

    # -- logs -------------------------------------------------------------------------------
    @unary
    async def WriteLogs(self, request, context):
        await self.orchestrator.logs.write(requests.log_entries(request))
        return pb.WriteLogsResponse()

    @unary
    async def ReadLogs(self, request, context):
        page = await self.orchestrator.logs.read(
            convert.run_id(request.flow_run_id, "flow_run_id"),
            convert.optional_run_id(request.task_run_id, "task_run_id"),
            request.page_size,
            request.page_token,
        )
        return pb.ReadLogsResponse(
            logs=[requests.log_pb(e) for e in page.items], next_page_token=page.next_token
        )

    # -- deployments ------------------------------------------------------------------------
    @unary
    async def CreateDeployment(self, request, context):
        dep, created = await self.orchestrator.deployments.create(convert.deployment_from_pb(request))
        return pb.CreateDeploymentResponse(deployment=convert.deployment_to_pb(dep), created=created)

    @unary
    async def ReadDeployment(self, request, context):
        dep = self.orchestrator.deployments.read(request.deployment_id, request.name)
        return pb.ReadDeploymentResponse(deployment=convert.deployment_to_pb(dep))

    @unary
    async def ListDeployments(self, request, context):
        deployments = self.orchestrator.deployments.all()
        return pb.ListDeploymentsResponse(deployments=[convert.deployment_to_pb(d) for d in deployments])

    @unary
    async def DeleteDeployment(self, request, context):
        if not request.name:
            raise InvalidArgument("name is required")
        await self.orchestrator.deployments.delete(request.name)
        return pb.DeleteDeploymentResponse()

    @unary
    async def CreateFlowRunFromDeployment(self, request, context):
        deployments = self.orchestrator.deployments
        dep = deployments.read(request.deployment_id, request.name)
        when = convert.optional_dt(
            request.scheduled_time, request.HasField("scheduled_time"), "scheduled_time"
        )
        run, created = await deployments.create_flow_run(
            dep,
            request.parameters_json,
            checks.tags(request.tags, "tags"),
            request.idempotency_key,
            when,
            request.flow_run_name,
        )
        return pb.CreateFlowRunResponse(flow_run=convert.flow_run_to_pb(run), created=created)

    # -- workers ----------------------------------------------------------------------------
    @unary
    async def ClaimFlowRuns(self, request, context):
        lease = checks.seconds(request.lease_seconds, "lease_seconds", positive=True)
        wait = checks.seconds(request.wait_seconds, "wait_seconds")
        runs = await self.orchestrator.leases.claim(request.worker_id, request.limit, lease, wait)
        return pb.ClaimFlowRunsResponse(flow_runs=[convert.flow_run_to_pb(r) for r in runs])

    @unary
    async def Heartbeat(self, request, context):
        lease = checks.seconds(request.lease_seconds, "lease_seconds", positive=True)
        cancel, lost = await self.orchestrator.leases.heartbeat(
            request.worker_id, list(request.flow_run_ids), lease
        )
        return pb.HeartbeatResponse(cancel_requested=cancel, lost=lost)
