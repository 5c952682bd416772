"""Default retries of tasks and flows from settings, and explicit retries winning over them.
Delays are scaled down from seconds to tenths of seconds."""

from __future__ import annotations

import time

import pytest

from executor import flow, task

from ._retrying import SLACK, run_task_in_flow
from ._util import uniq

pytestmark = pytest.mark.timeout(30)


# 66 ------------------------------------------------------------------------------------------
# Prefect's PREFECT_* settings are CADENZA_* environment variables here (DESIGN.md conventions).
def test_66_task_default_retries_setting(monkeypatch):
    monkeypatch.setenv("CADENZA_TASK_DEFAULT_RETRIES", "1")
    monkeypatch.setenv("CADENZA_TASK_DEFAULT_RETRY_DELAY_SECONDS", "0.3")
    starts: list[float] = []

    @task
    def flaky():
        starts.append(time.monotonic())
        raise ValueError("again")

    state, _ = run_task_in_flow(flaky)
    assert state.is_failed()
    assert len(starts) == 2
    assert 0.3 - 0.02 <= starts[1] - starts[0] < 0.3 + SLACK


def test_66_explicit_retries_win_over_the_default_setting(monkeypatch):
    monkeypatch.setenv("CADENZA_TASK_DEFAULT_RETRIES", "3")
    calls = []

    @task(retries=0)
    def once():
        calls.append(1)
        raise ValueError("no retries")

    run_task_in_flow(once)
    assert len(calls) == 1


def test_66_flow_default_retries_setting(monkeypatch):
    monkeypatch.setenv("CADENZA_FLOW_DEFAULT_RETRIES", "1")
    monkeypatch.setenv("CADENZA_FLOW_DEFAULT_RETRY_DELAY_SECONDS", "0.3")
    starts: list[float] = []

    @flow(name=uniq("retry-66f"))
    def f():
        starts.append(time.monotonic())
        if len(starts) == 1:
            raise ValueError("first")
        return "second"

    assert f() == "second"
    assert 0.3 - 0.02 <= starts[1] - starts[0] < 0.3 + SLACK
