"""The orchestrator's own work on a timer (lapsed leases, expired pauses, Late runs, deployment
schedules) is done once for the database, however many replicas serve it: one run ends Crashed
once, not once per replica, and a schedule makes one run per scheduled time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC

import pytest

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb
from tests.service._helpers import (
    CRASHED,
    FAILED,
    FLOW,
    PAUSED,
    PENDING,
    RUNNING,
    SCHEDULED,
    TIMEOUT,
    accepted,
    history,
    later,
    new_flow,
    read_flow,
    state,
    types,
    utcnow,
    wait_until,
)

from ._helpers import deployment, scheduled_run
from .conftest import ReplicaSet

# The background loops tick every 0.5 s (schedules every 1 s): a few ticks on every replica.
SETTLE = 1.2
LEASE = 0.3


@pytest.fixture(scope="module")
def trio(postgres, tmp_path_factory):
    """Three replicas that take lapsed leases away and mark runs Late soon after."""
    group = ReplicaSet(postgres, tmp_path_factory.mktemp("trio"))
    try:
        yield group.start(
            3, CADENZA_LEASE_TAKEOVER_GRACE_SECONDS="0.2", CADENZA_LATE_RUNS_AFTER_SECONDS="0.3"
        )
    finally:
        group.close()


@dataclass
class Scenes:
    """A run of each kind the background work ends, all set up at once so that the tests' waits
    for more ticks overlap."""

    crashing: str  # claimed with a short lease, never heartbeated
    epoch: int
    pausing: str  # paused with a short timeout
    late: str  # Scheduled, due now, never claimed
    scheduled: pb.Deployment  # an interval schedule


def _known_to_all(trio, run_id: str) -> None:
    """Read through every replica: any of them that kept what it read would now do the
    run's background work too, and twice is what the tests look for."""
    for replica in trio:
        assert read_flow(replica.stub, run_id).id == run_id


@pytest.fixture(scope="module")
def scenes(trio) -> Scenes:
    a, b, c = (replica.stub for replica in trio)
    crashing = scheduled_run(a, deployment(a))
    req = pb.ClaimFlowRunsRequest(worker_id="gone", limit=100, lease_seconds=LEASE)
    claimed = {r.id: r for r in a.ClaimFlowRuns(req, timeout=TIMEOUT).flow_runs}
    epoch = claimed[crashing.id].lease_epoch
    run = pb.ProposeStateRequest(run_kind=FLOW, run_id=crashing.id, state=state(RUNNING), lease_epoch=epoch)
    assert b.ProposeState(run, timeout=TIMEOUT).status == pb.PROPOSAL_STATUS_ACCEPT
    _known_to_all(trio, crashing.id)
    pausing = new_flow(a, flow_name="paused")
    accepted(b, FLOW, pausing.id, state(RUNNING))
    accepted(c, FLOW, pausing.id, state(PAUSED, pause_key="p", pause_timeout=later(0.3)))
    _known_to_all(trio, pausing.id)
    late = scheduled_run(a, deployment(a))  # after the claim: nobody claims it
    _known_to_all(trio, late.id)
    scheduled = deployment(a, schedule=pb.Schedule(interval_seconds=1))
    return Scenes(crashing.id, epoch, pausing.id, late.id, scheduled)


def _settled_history(trio, run_id: str) -> list[spb.State]:
    """The run's history once every replica has ticked a few more times after its last change,
    the same through each replica."""
    last = history(trio[0].stub, FLOW, run_id)[-1].timestamp.ToDatetime(tzinfo=UTC)
    time.sleep(max(0.0, (last - utcnow()).total_seconds() + SETTLE))
    seen = [history(replica.stub, FLOW, run_id) for replica in trio]
    assert all(one == seen[0] for one in seen), [types(one) for one in seen]
    return seen[0]


def test_a_lapsed_lease_crashes_its_run_once(trio, scenes):
    # No heartbeat ever: the lease lapses, and one replica or another takes the run away.
    assert wait_until(lambda: read_flow(trio[2].stub, scenes.crashing).state.type == CRASHED, timeout=5)
    kinds = types(_settled_history(trio, scenes.crashing))
    assert kinds == ["STATE_TYPE_SCHEDULED", "STATE_TYPE_PENDING", "STATE_TYPE_RUNNING", "STATE_TYPE_CRASHED"]
    assert read_flow(trio[1].stub, scenes.crashing).lease_epoch == scenes.epoch + 1  # taken away once


def test_an_expired_pause_fails_its_run_once(trio, scenes):
    assert wait_until(lambda: read_flow(trio[1].stub, scenes.pausing).state.type == FAILED, timeout=5)
    kinds = types(_settled_history(trio, scenes.pausing))
    assert kinds == ["STATE_TYPE_PENDING", "STATE_TYPE_RUNNING", "STATE_TYPE_PAUSED", "STATE_TYPE_FAILED"]


def test_a_run_past_due_is_marked_late_once(trio, scenes):
    assert wait_until(lambda: read_flow(trio[1].stub, scenes.late).state.name == "Late", timeout=5)
    after = _settled_history(trio, scenes.late)
    assert [(s.type, s.name) for s in after] == [(SCHEDULED, "Scheduled"), (SCHEDULED, "Late")]


def test_an_interval_schedule_makes_one_run_per_scheduled_time(trio, scenes):
    a, b, _ = trio
    dep = scenes.scheduled
    # Every replica's schedule loop (each second) has run a few times since.
    created = dep.created.ToDatetime(tzinfo=UTC)
    time.sleep(max(0.0, (created - utcnow()).total_seconds() + 2 * SETTLE))
    # Deleted before counting, so no replica adds runs while we look.
    a.stub.DeleteDeployment(pb.DeleteDeploymentRequest(name=dep.name), timeout=TIMEOUT)
    req = pb.ListFlowRunsRequest(deployment_id=dep.id, page_size=1000)
    runs = list(b.stub.ListFlowRuns(req, timeout=TIMEOUT).flow_runs)
    times = sorted(r.state.details.scheduled_time.ToDatetime() for r in runs)
    assert len(times) >= 3, [(r.name, r.idempotency_key) for r in runs]
    # One run per time: no two runs for one time, even times that differ by a rounding.
    gaps = [round((later_ - earlier).total_seconds(), 2) for earlier, later_ in zip(times, times[1:])]
    assert set(gaps) == {1.0}, (gaps, [r.idempotency_key for r in runs])
    assert times[-1] > utcnow().replace(tzinfo=None), "the next runs are kept ahead"
    assert {r.state.type for r in runs} <= {SCHEDULED, PENDING}
