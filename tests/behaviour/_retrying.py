"""Helpers shared by the retry modules (test_retries_*.py)."""

from __future__ import annotations

from executor import flow

from ._util import uniq

RETRY_HISTORY_3_FAILED = [
    "Pending", "Running",
    "AwaitingRetry", "Retrying",
    "AwaitingRetry", "Retrying",
    "AwaitingRetry", "Retrying",
    "Failed",
]  # fmt: skip

SLACK = 0.5  # engine overhead allowed on top of a delay


def run_task_in_flow(t, *args, **kwargs):
    """Call `t` once inside a fresh flow; return (task state, task run id)."""

    @flow(name=uniq("retry-host"))
    def host():
        state = t(*args, return_state=True, **kwargs)
        return state, str(state.state_details.task_run_id)

    return host()
