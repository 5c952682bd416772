"""Both replicas serve from the start (no standby): when the one a flow's client uses is
killed, its client carries on through the other at once, re-sending what was in flight, and
nothing is done twice."""

from __future__ import annotations

from tests.service._helpers import all_task_runs, wait_until

from ._helpers import assert_each_task_ran_once, finish, start_flow

STEPS, PAUSE = 60, 0.02


def test_a_flow_carries_on_through_the_other_replica_when_the_one_in_use_is_killed(replicas, tmp_path):
    a, b = replicas(2)
    proc = start_flow(tmp_path, [a.address, b.address], STEPS, PAUSE)
    run_id = proc.stdout.readline().strip()  # printed by the flow once it runs
    assert run_id, proc.stderr.read()
    # Killed mid-way: some task runs are done (and read through b), more are to come.
    assert wait_until(lambda: len(all_task_runs(b.stub, flow_run_id=run_id)) >= 5, timeout=10)
    a.kill()
    assert proc.poll() is None, "the flow ended before a was killed"
    finish(proc, STEPS)
    assert_each_task_ran_once(b.stub, run_id, STEPS)
