"""WatchFlowRun: a server stream of a flow run's state changes and log lines."""

from __future__ import annotations

from cadenza.v1 import orchestrator_pb2 as pb

from ..app import Orchestrator
from ..app.errors import ServiceError
from ..app.watch import LogEvent, WatchItem
from . import convert, requests
from .status import status_code


def _item_pb(item: WatchItem, sequence: int) -> pb.WatchFlowRunResponse:
    event = item.event
    if event is None:
        return pb.WatchFlowRunResponse(sequence=sequence, terminal=True)
    if isinstance(event, LogEvent):
        return pb.WatchFlowRunResponse(
            sequence=sequence, log=requests.log_pb(event.entry), snapshot=item.snapshot
        )
    return pb.WatchFlowRunResponse(
        sequence=sequence,
        state_change=pb.RunStateChange(
            run_kind=requests.KINDS_PB[event.run_kind],
            run_id=event.run_id,
            run_name=event.run_name,
            flow_run_id=event.flow_run_id,
            state=convert.state_to_pb(event.state),
        ),
        snapshot=item.snapshot,
        terminal=item.terminal,
    )


class WatchRpc:
    orchestrator: Orchestrator

    async def WatchFlowRun(self, request, context):
        try:
            flow_run_id = convert.run_id(request.flow_run_id, "flow_run_id")
            items = self.orchestrator.runs.watch(flow_run_id, not request.exclude_task_runs)
            first = await anext(items)
        except ServiceError as exc:
            await context.abort(status_code(exc), exc.message)
            return
        sequence = 1
        try:
            yield _item_pb(first, sequence)
            async for item in items:
                sequence += 1
                yield _item_pb(item, sequence)
        finally:
            await items.aclose()  # unsubscribes at once when the client goes away
