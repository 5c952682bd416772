"""The fault tool (benchmarks/faults.py), quickly: two SIGKILLs of the orchestrator under load
lose no accepted state, and a killed flow-run process or a killed executor leaves its run
Crashed within three leases."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.faults import render_crashes, render_kills
from benchmarks.robustness.crashes import measure_crashes
from benchmarks.robustness.kills import measure_kills

LEASE_SECONDS = 2.0


@pytest.mark.timeout(60)
def test_two_sigkills_of_the_orchestrator_lose_no_accepted_state(tmp_path):
    report = asyncio.run(measure_kills(tmp_path, kills=2, clients=4, seed=3, uptime=(0.3, 0.8)))
    shown = render_kills(report)
    assert report.accepted >= 100 and len(report.restart_seconds) == 2, shown
    assert report.lost == 0, shown
    assert report.ok, shown


@pytest.mark.timeout(90)
def test_killed_processes_leave_their_runs_crashed_within_three_leases(tmp_path):
    scenarios = measure_crashes(tmp_path, repeat=1, lease_seconds=LEASE_SECONDS)
    shown = render_crashes(scenarios, LEASE_SECONDS)
    assert [s.what for s in scenarios] == [
        "flow-run process SIGKILLed",
        "executor SIGKILLed",
        "script SIGKILLed",
    ]
    for scenario in scenarios:
        assert scenario.ok, shown
        assert max(scenario.measured()) <= 3 * LEASE_SECONDS, shown
    assert scenarios[1].timings[0].orphan_stopped_seconds is not None, shown
