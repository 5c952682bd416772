"""Cadenza's engine: run flows and tasks, every state decided by the orchestrator.

Prefect 2 users change `prefect` to `executor` in their imports."""

from executor.annotations import allow_failure, quote, unmapped
from executor.client import get_client
from executor.context import get_run_context, tags
from executor.flows import Flow, flow
from executor.futures import PrefectFuture
from executor.loggers import get_run_logger
from executor.pause import pause_flow_run, resume_flow_run
from executor.states import State
from executor.tasks import Task, task

__all__ = [
    "flow",
    "task",
    "Flow",
    "Task",
    "State",
    "PrefectFuture",
    "get_run_logger",
    "get_run_context",
    "pause_flow_run",
    "resume_flow_run",
    "allow_failure",
    "quote",
    "unmapped",
    "tags",
    "get_client",
]
