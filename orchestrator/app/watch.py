"""Watching a flow run: committed changes fanned out to subscribers, and the sequence one
watcher sees (a snapshot of where everything is, then each change as it is committed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

from ..core.models import FlowRun, State, TaskRun


@dataclass(slots=True)
class StateEvent:
    run_kind: str  # "flow" or "task"
    run_id: str
    run_name: str
    flow_run_id: str
    state: State


@dataclass(slots=True)
class LogEvent:
    entry: dict


Event = StateEvent | LogEvent


@dataclass(slots=True)
class WatchItem:
    """One thing a watcher is told: an event, or (event None) that the run is over."""

    event: Event | None
    snapshot: bool = False
    terminal: bool = False


class WatchHub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue]] = {}

    def subscribe(self, flow_run_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._subscribers.setdefault(flow_run_id, set()).add(queue)
        return queue

    def unsubscribe(self, flow_run_id: str, queue: asyncio.Queue) -> None:
        subs = self._subscribers.get(flow_run_id)
        if subs is not None:
            subs.discard(queue)
            if not subs:
                del self._subscribers[flow_run_id]

    def publish(self, flow_run_id: str, event: Event) -> None:
        for queue in self._subscribers.get(flow_run_id, ()):
            queue.put_nowait(event)


async def follow(
    hub: WatchHub,
    flow_run_id: str,
    read_flow_run: Callable[[str], FlowRun],
    read_task_runs: Callable[[str], Awaitable[list[TaskRun]]] | None,
) -> AsyncGenerator[WatchItem, None]:
    """A snapshot of the flow run (and its task runs, unless `read_task_runs` is None), then
    every committed change until the flow run ends."""
    queue = hub.subscribe(flow_run_id)
    last_sent: dict[str, State] = {}
    try:
        tasks = await read_task_runs(flow_run_id) if read_task_runs is not None else []
        # No await from here until the snapshot is taken: a change is applied in memory
        # before it is published, so the state changes already queued are no newer than
        # the states read now. Replaying them after the snapshot would show runs going back.
        queued = []
        while not queue.empty():
            queued.append(queue.get_nowait())
        run = read_flow_run(flow_run_id)
        covered = {run.id, *(t.id for t in tasks)}
        snapshot = [StateEvent("flow", run.id, run.name, run.id, run.state)] if run.state else []
        snapshot += [StateEvent("task", t.id, t.name, flow_run_id, t.state) for t in tasks if t.state]
        for event in queued:
            if not (isinstance(event, StateEvent) and event.run_id in covered):
                queue.put_nowait(event)
        for event in snapshot:
            last_sent[event.run_id] = event.state
            yield WatchItem(event, snapshot=True)
        if run.state is not None and run.state.is_final():
            yield WatchItem(None, terminal=True)
            return
        while True:
            event = await queue.get()
            if isinstance(event, StateEvent):
                if read_task_runs is None and event.run_kind == "task":
                    continue
                if _not_newer(event.state, last_sent.get(event.run_id)):
                    continue
                last_sent[event.run_id] = event.state
            terminal = (
                isinstance(event, StateEvent) and event.run_id == flow_run_id and event.state.is_final()
            )
            yield WatchItem(event, terminal=terminal)
            if terminal:
                return
    finally:
        hub.unsubscribe(flow_run_id, queue)


def _not_newer(state: State, sent: State | None) -> bool:
    """Already told, or older than what was told: a note from another replica may arrive after
    the snapshot that already shows its change (or a later one)."""
    return sent is not None and (state.id == sent.id or state.timestamp < sent.timestamp)
