"""Fan-out of committed changes to WatchFlowRun subscribers, keyed by flow run id."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class StateEvent:
    run_kind: str  # "flow" or "task"
    run_id: str
    run_name: str
    flow_run_id: str
    state: Any  # core State


@dataclass(slots=True)
class LogEvent:
    entry: dict


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

    def publish(self, flow_run_id: str, event: StateEvent | LogEvent) -> None:
        for queue in self._subscribers.get(flow_run_id, ()):
            queue.put_nowait(event)

    def has_subscribers(self, flow_run_id: str) -> bool:
        return flow_run_id in self._subscribers
