"""When a flow run is cancelled or crashes, its unfinished task runs and subflows end the same
way, whoever ended the run, so none is left Running and their concurrency slots are freed."""

from __future__ import annotations

import asyncio
import logging

from ..core.models import FlowRun, Proposal, State, StateType, TaskRun
from ..store.base import FlowRunFilter, Store
from .proposals import Proposals
from .registry import Registry
from .watch import StateEvent

log = logging.getLogger("cadenza.orchestrator")

ENDS_DESCENDANTS = {
    StateType.CANCELLED: "The parent flow run was cancelled.",
    StateType.CRASHED: "The parent flow run crashed.",
}


class Descendants:
    def __init__(self, store: Store, registry: Registry, proposals: Proposals) -> None:
        self.store = store
        self.registry = registry
        self.proposals = proposals
        self._cleanups: set[asyncio.Task] = set()

    def on_flow_state(self, event: StateEvent) -> None:
        """Listener for committed flow states: start ending the descendants of an ended run."""
        if event.state.type in ENDS_DESCENDANTS:
            task = asyncio.get_running_loop().create_task(self.end(event.run_id, event.state.type))
            self._cleanups.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._cleanups.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("ending the runs under a finished flow run failed", exc_info=task.exception())

    async def end(self, flow_run_id: str, final_type: StateType) -> None:
        await self.store.flush()
        tasks, flows = self.live_under(flow_run_id)
        message = ENDS_DESCENDANTS[final_type]
        for kind, runs in (("flow", flows), ("task", tasks)):
            for run in runs:
                if isinstance(run, FlowRun) and run.lease_epoch:
                    run.lease_epoch += 1  # a subflow under the ended claim: fenced out with it
                # Only over the state seen here: a run that moved on meanwhile is left alone.
                seen = run.state.id if run.state is not None else ""
                ended = Proposal(State(final_type, message=message), force=True, expected_state_id=seen)
                await self.proposals.propose(kind, run.id, ended)

    def live_under(self, flow_run_id: str) -> tuple[list[TaskRun], list[FlowRun]]:
        """Non-final task runs and subflow runs under a flow run, at any depth."""
        tasks: list[TaskRun] = []
        flows: list[FlowRun] = []
        todo = [flow_run_id]
        seen = set()
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            for stored in self._all_task_runs(current):
                run = self.registry.merge_task_run(stored)  # the newer of memory's and the store's
                if run.state is not None and not run.state.is_final():
                    tasks.append(run)
                for stored_child in self._children(run.id):
                    child = self.registry.merge_flow_run(stored_child)
                    if child.state is not None and not child.state.is_final():
                        flows.append(child)
                    todo.append(child.id)
        return tasks, flows

    def _all_task_runs(self, flow_run_id: str):
        token = ""
        while True:
            page = self.store.list_task_runs(flow_run_id, [], 1000, token)
            yield from page.items
            token = page.next_token
            if not token:
                return

    def _children(self, task_run_id: str) -> list[FlowRun]:
        return self.store.list_flow_runs(FlowRunFilter(parent_task_run_id=task_run_id), 1000, "").items
