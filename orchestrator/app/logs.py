"""Log lines of runs: stored with the run, published to its watchers, read back by page."""

from __future__ import annotations

import json

from ..store.base import Page, Store
from .commits import Change, Committer
from .registry import Registry
from .runs import paged
from .watch import LogEvent


class Logs:
    def __init__(self, store: Store, registry: Registry, committer: Committer) -> None:
        self.store = store
        self.registry = registry
        self.committer = committer

    async def write(self, entries: list[dict]) -> None:
        change = Change()
        for entry in entries:
            self.registry.require_flow_run(entry["flow_run_id"])
            change.batch.add_log(entry["flow_run_id"], entry["task_run_id"], json.dumps(entry))
            change.events.append((entry["flow_run_id"], LogEvent(entry)))
        if change:
            await self.committer.commit(change)

    async def read(self, flow_run_id: str, task_run_id: str, page_size: int, page_token: str) -> Page:
        self.registry.require_flow_run(flow_run_id)
        await self.store.flush()
        return paged(self.store.read_logs, flow_run_id, task_run_id, page_size, page_token)
