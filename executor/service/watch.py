"""WatchFlowRun for callers: the orchestrator's watch of a run, merged with the watches of its
subflows as they appear, with task-run progress counts on every event."""

from __future__ import annotations

import asyncio

import grpc

from cadenza.v1 import executor_pb2 as epb
from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb

from .config import ExecutorConfig

_FINAL = {spb.STATE_TYPE_COMPLETED, spb.STATE_TYPE_FAILED, spb.STATE_TYPE_CRASHED, spb.STATE_TYPE_CANCELLED}
_END = object()
_CHILD_DRAIN_SECONDS = 2.0


def _event(msg, sequence: int, progress: _Progress, terminal: bool) -> epb.FlowRunEvent:
    total, done = progress.counts
    event = epb.FlowRunEvent(
        sequence=sequence,
        snapshot=msg.snapshot,
        terminal=terminal,
        task_runs_total=total,
        task_runs_done=done,
    )
    if msg.HasField("state_change"):
        event.state_change.CopyFrom(msg.state_change)
    elif msg.HasField("log"):
        event.log.CopyFrom(msg.log)
    return event


class _Progress:
    def __init__(self) -> None:
        self.final: dict[str, bool] = {}
        self.trackers: set[str] = set()

    def see(self, change: pb.RunStateChange) -> None:
        if change.run_kind != pb.RUN_KIND_TASK or change.run_id in self.trackers:
            return
        if change.state.details.child_flow_run_id:
            # A subflow's tracking task run is not a task; its first state (Pending, before
            # the subflow run exists) does not say so yet, so forget it once it does.
            self.trackers.add(change.run_id)
            self.final.pop(change.run_id, None)
            return
        self.final[change.run_id] = change.state.type in _FINAL

    @property
    def counts(self) -> tuple[int, int]:
        return len(self.final), sum(self.final.values())


async def _history(stub, config: ExecutorConfig, run: pb.FlowRun):
    """A finished run: its whole state history, its task runs' states and its log lines."""
    meta = config.metadata()
    states = await stub.ReadStates(
        pb.ReadStatesRequest(run_kind=pb.RUN_KIND_FLOW, run_id=run.id), timeout=10, metadata=meta
    )
    for state in states.states:
        yield pb.RunStateChange(
            run_kind=pb.RUN_KIND_FLOW, run_id=run.id, run_name=run.name, flow_run_id=run.id, state=state
        )
    token = ""
    while True:
        page = await stub.ListTaskRuns(
            pb.ListTaskRunsRequest(flow_run_id=run.id, page_size=1000, page_token=token),
            timeout=10,
            metadata=meta,
        )
        for task in page.task_runs:
            yield pb.RunStateChange(
                run_kind=pb.RUN_KIND_TASK,
                run_id=task.id,
                run_name=task.name,
                flow_run_id=run.id,
                state=task.state,
            )
        token = page.next_page_token
        if not token:
            break
    token = ""
    while True:
        logs = await stub.ReadLogs(
            pb.ReadLogsRequest(flow_run_id=run.id, page_size=1000, page_token=token),
            timeout=10,
            metadata=meta,
        )
        for entry in logs.logs:
            yield entry
        token = logs.next_page_token
        if not token:
            return


def _is_task_change(item) -> bool:
    return isinstance(item, pb.RunStateChange) and item.run_kind == pb.RUN_KIND_TASK


async def watch_flow_run(stub, config: ExecutorConfig, flow_run_id: str, exclude_task_runs: bool = False):
    """Events of the run for a caller; with `exclude_task_runs`, its task runs' state changes
    are left out of what is sent but still followed, for the progress counts and for the
    subflows they start."""
    meta = config.metadata()
    run = (
        await stub.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=flow_run_id), timeout=10, metadata=meta)
    ).flow_run
    progress = _Progress()
    sequence = 0
    if run.state.type in _FINAL:
        items = [c async for c in _history(stub, config, run)]
        for item in items:
            if isinstance(item, pb.RunStateChange):
                progress.see(item)
        total, done = progress.counts
        if exclude_task_runs:
            items = [item for item in items if not _is_task_change(item)]
        for i, item in enumerate(items):
            sequence += 1
            event = epb.FlowRunEvent(
                sequence=sequence,
                snapshot=True,
                terminal=i == len(items) - 1,
                task_runs_total=total,
                task_runs_done=done,
            )
            if isinstance(item, pb.RunStateChange):
                event.state_change.CopyFrom(item)
            else:
                event.log.CopyFrom(item)
            yield event
        return

    queue: asyncio.Queue = asyncio.Queue()
    watched: set[str] = set()
    tasks: list[asyncio.Task] = []
    open_children: set[str] = set()

    async def pump(run_id: str, root: bool) -> None:
        try:
            call = stub.WatchFlowRun(pb.WatchFlowRunRequest(flow_run_id=run_id), metadata=meta)
            async for msg in call:
                await queue.put((root, msg))
        except grpc.aio.AioRpcError as exc:
            if root:
                await queue.put((root, exc))
        finally:
            await queue.put((root, (_END, run_id)))

    def follow(run_id: str, root: bool = False) -> None:
        if run_id not in watched:
            watched.add(run_id)
            if not root:
                open_children.add(run_id)
            tasks.append(asyncio.create_task(pump(run_id, root)))

    follow(flow_run_id, root=True)
    # The root's terminal event waits until the subflows' streams have ended (a subflow ends
    # before its parent, but its last events may still be on their way), for at most a moment.
    held: pb.WatchFlowRunResponse | None = None
    deadline = 0.0
    loop = asyncio.get_running_loop()
    try:
        while True:
            if held is not None and not open_children:
                break
            try:
                timeout = None if held is None else max(0.0, deadline - loop.time())
                root, msg = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                break  # a subflow stream that does not end does not hold the parent's end
            if isinstance(msg, tuple) and msg[0] is _END:
                if root and held is None:
                    return  # the root's stream ended without a terminal event
                open_children.discard(msg[1])
                continue
            if isinstance(msg, grpc.aio.AioRpcError):
                raise msg
            if msg.HasField("state_change"):
                change = msg.state_change
                progress.see(change)
                child = change.state.details.child_flow_run_id
                if child:
                    follow(child)
            if root and msg.terminal:
                held, deadline = msg, loop.time() + _CHILD_DRAIN_SECONDS
                continue
            if not msg.HasField("state_change") and not msg.HasField("log"):
                continue
            if exclude_task_runs and _is_task_change(msg.state_change):
                continue
            sequence += 1
            yield _event(msg, sequence, progress, terminal=False)
        if held is not None:
            sequence += 1
            yield _event(held, sequence, progress, terminal=True)
    finally:
        for task in tasks:
            task.cancel()
