"""Small helpers shared by the behaviour modules. Public API only."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import TypeVar

from tests.processes import pid_alive as pid_alive  # re-exported for the tests here

T = TypeVar("T")


def uniq(prefix: str) -> str:
    """A name no other test (or earlier session on the same db) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_until(predicate: Callable[[], T], timeout: float = 2.0, interval: float = 0.02) -> T:
    """Poll until predicate() is truthy; return its last value (falsy on timeout)."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def names(states: Iterable) -> list[str]:
    return [s.name for s in states]


def flow_run_id(state) -> str:
    """The flow run a (flow) state belongs to."""
    return str(state.state_details.flow_run_id)


def task_run_id(state) -> str:
    return str(state.state_details.task_run_id)


def ids(inputs) -> set[str]:
    """The ids in one task_inputs entry (a list of inputs with `.id`)."""
    return {str(i.id) for i in inputs}


def all_input_ids(task_run) -> set[str]:
    return {str(i.id) for inputs in task_run.task_inputs.values() for i in inputs}


def task_runs(client, flow_run_id: str) -> list:
    """The task runs of one flow run, ordered by name (task-name-dynamic_key)."""
    runs = list(client.read_task_runs(flow_run_id=flow_run_id))
    return sorted(runs, key=lambda r: (_task_base(r.name), _key_int(r.dynamic_key)))


def task_runs_named(client, flow_run_id: str, task_name: str) -> list:
    return [r for r in task_runs(client, flow_run_id) if _task_base(r.name) == task_name]


def _task_base(run_name: str) -> str:
    base, sep, tail = run_name.rpartition("-")
    return base if sep and tail.isdigit() else run_name


def _key_int(key) -> int:
    try:
        return int(key)
    except (TypeError, ValueError):
        return -1


def log_messages(client, flow_run_id: str) -> list[str]:
    return [entry.message for entry in client.read_logs(flow_run_id)]


def wait_for_log(client, flow_run_id: str, text: str, timeout: float = 2.0) -> list[str]:
    """Logs are shipped in the background; poll until one contains `text`."""
    found: list[str] = []

    def seen() -> bool:
        found[:] = log_messages(client, flow_run_id)
        return any(text in m for m in found)

    wait_until(seen, timeout=timeout, interval=0.05)
    return found
