"""Walk a flow run's task runs and subflow runs, for cleanup after cancel or crash."""

from __future__ import annotations

from .core.models import FlowRun, TaskRun
from .store.base import FlowRunFilter


def live_descendants(service, flow_run_id: str) -> tuple[list[TaskRun], list[FlowRun]]:
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
        for run in _all_task_runs(service, current):
            run = service.registry.read_task_run(run.id) or run
            if run.state is not None and not run.state.is_final():
                tasks.append(run)
            for child in _children(service, run.id):
                child = service.registry.read_flow_run(child.id) or child
                if child.state is not None and not child.state.is_final():
                    flows.append(child)
                todo.append(child.id)
    return tasks, flows


def _all_task_runs(service, flow_run_id: str):
    token = ""
    while True:
        page = service.store.list_task_runs(flow_run_id, [], 1000, token)
        yield from page.items
        token = page.next_token
        if not token:
            return


def _children(service, task_run_id: str):
    page = service.store.list_flow_runs(FlowRunFilter(parent_task_run_id=task_run_id), 1000, "")
    return page.items
