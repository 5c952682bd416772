"""What Prefect 2.20 stores in a run's logs beyond the lines the user writes: a record logged
with exc_info keeps its traceback; a failing flow or task logs "Encountered exception during
execution:" with the traceback at ERROR; each retry logs that the run will run again; and a
record logged with extra={"send_to_api": False} is printed but not stored."""

from __future__ import annotations

import logging

import pytest

from executor import flow, get_run_logger, task

from ._util import flow_run_id, task_run_id, uniq, wait_for_log

pytestmark = pytest.mark.timeout(30)

ENCOUNTERED = "Encountered exception during execution:"
RERUN = (
    "Received non-final state 'AwaitingRetry' when proposing final state 'Failed'"
    " and will attempt to run again..."
)


def stored(client, fid: str, text: str) -> list:
    """The stored entries of a flow run whose message contains `text` (once one is there)."""
    wait_for_log(client, fid, text)
    return [entry for entry in client.read_logs(fid) if text in entry.message]


def test_exc_info_keeps_the_traceback_in_the_stored_line(client):
    marker = uniq("caught")

    @task
    def catches():
        try:
            raise ValueError("inner problem")
        except ValueError:
            get_run_logger().error(marker, exc_info=True)

    @flow(name=uniq("logs-excinfo"))
    def host():
        catches()
        try:
            raise KeyError("flow problem")
        except KeyError:
            get_run_logger().warning(marker + "-flow", exc_info=True)

    fid = flow_run_id(host(return_state=True))
    task_line, flow_line = sorted(stored(client, fid, marker), key=lambda e: e.task_run_id is None)
    assert task_line.task_run_id and task_line.level == logging.ERROR
    assert "Traceback (most recent call last)" in task_line.message
    assert "ValueError: inner problem" in task_line.message
    assert flow_line.task_run_id is None and flow_line.level == logging.WARNING
    assert "KeyError: 'flow problem'" in flow_line.message


def test_failing_task_and_flow_log_the_exception_at_error(client):
    @task
    def breaks():
        raise ValueError("task broke")

    @flow(name=uniq("logs-fail"))
    def host():
        state = breaks(return_state=True)
        raise RuntimeError(f"flow broke after {task_run_id(state)}")

    state = host(return_state=True)
    assert state.is_failed()
    fid = flow_run_id(state)
    wait_for_log(client, fid, "RuntimeError: flow broke")
    lines = [e for e in client.read_logs(fid) if e.message.startswith(ENCOUNTERED)]
    task_lines = [e for e in lines if e.task_run_id]
    flow_lines = [e for e in lines if not e.task_run_id]
    assert len(task_lines) == 1 and len(flow_lines) == 1
    assert all(e.level == logging.ERROR for e in lines)
    assert "Traceback (most recent call last)" in task_lines[0].message
    assert "ValueError: task broke" in task_lines[0].message
    assert "RuntimeError: flow broke" in flow_lines[0].message


def test_each_task_retry_is_logged(client):
    @task(retries=2)
    def flaky():
        raise ValueError("again")

    @flow(name=uniq("logs-task-retry"))
    def host():
        return flaky(return_state=True)

    fid = flow_run_id(host(return_state=True))
    wait_for_log(client, fid, "ValueError: again")
    retries = [e for e in client.read_logs(fid) if e.message == RERUN]
    assert len(retries) == 2
    assert all(e.task_run_id and e.level == logging.INFO for e in retries)


def test_flow_retry_is_logged(client):
    attempts = []

    @flow(name=uniq("logs-flow-retry"), retries=1)
    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first time")
        return "ok"

    state = flaky(return_state=True)
    assert state.result() == "ok"
    retries = stored(client, flow_run_id(state), RERUN)
    assert len(retries) == 1 and retries[0].task_run_id is None


def test_send_to_api_false_is_printed_but_not_stored(client, caplog):
    hidden, shown = uniq("hidden"), uniq("shown")

    @flow(name=uniq("logs-hidden"))
    def host():
        logger = get_run_logger()
        logger.info(hidden, extra={"send_to_api": False})
        logger.info(shown)

    with caplog.at_level(logging.INFO):
        fid = flow_run_id(host(return_state=True))
    messages = wait_for_log(client, fid, shown)
    assert not any(hidden in m for m in messages)
    assert any(hidden in r.getMessage() for r in caplog.records)
