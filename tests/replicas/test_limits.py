"""A tag's concurrency limit is one limit for the database, not one per replica: flows whose
clients use different replicas never hold more slots together than the limit. Seen two ways:
the limit's slots sampled through every replica while the flows run, and, afterwards, the task
runs' Running spells in their histories (the deciding replica stamps each state), which would
also show slots a replica kept to itself."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import grpc

from cadenza.v1 import orchestrator_pb2 as pb
from tests.service._helpers import RUNNING, TASK, TIMEOUT, all_task_runs, history

from ._helpers import active_slots, assert_each_task_ran_once, finish, start_flow

TAG, LIMIT = "db", 2
STEPS, PAUSE = 4, 0.2  # per flow, all at once: 12 tasks wanting 2 slots
SAMPLE_EVERY = 0.02


def test_a_tag_limit_holds_across_flows_using_different_replicas(replicas, tmp_path):
    group = replicas(3, CADENZA_SLOT_WAIT_SECONDS="0.02", CADENZA_SLOT_WAIT_MAX_SECONDS="0.1")
    req = pb.CreateConcurrencyLimitRequest(tag=TAG, concurrency_limit=LIMIT)
    group[0].stub.CreateConcurrencyLimit(req, timeout=TIMEOUT)

    samples: list[int] = []
    errors: list[grpc.RpcError] = []
    stop = threading.Event()

    def sample() -> None:
        # Through each replica in turn: every one must see the slots taken through the others.
        turn = 0
        while not stop.is_set():
            try:
                samples.append(active_slots(group[turn % len(group)].stub, TAG))
            except grpc.RpcError as exc:
                errors.append(exc)
            turn += 1
            time.sleep(SAMPLE_EVERY)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        procs = [
            start_flow(tmp_path / replica.name, [replica.address], STEPS, PAUSE, tag=TAG, how="map")
            for replica in group
        ]
        outputs = [finish(proc, STEPS) for proc in procs]
    finally:
        stop.set()
        sampler.join(timeout=5)
    flow_run_ids = [out.splitlines()[0].strip() for out in outputs]
    peak = max(samples, default=0)
    spells = _running_spells(group[0].stub, flow_run_ids)
    overlap = _most_at_once(spells)
    print(
        f"tag {TAG!r}, limit {LIMIT}: peak of active slots {peak} ({len(samples)} samples), "
        f"most Running at once by the histories {overlap} ({len(spells)} task runs)"
    )
    assert overlap <= LIMIT, f"{overlap} task runs Running at once with a limit of {LIMIT}"
    assert not errors, errors[0]
    assert peak <= LIMIT, f"{peak} slots held at once with a limit of {LIMIT}"
    assert peak >= 1, "the sampler never saw a slot taken"
    for replica, flow_run_id in zip(group, flow_run_ids):
        assert_each_task_ran_once(replica.stub, flow_run_id, STEPS)
    assert active_slots(group[-1].stub, TAG) == 0, "a slot was never given back"


def _running_spells(stub, flow_run_ids: list[str]) -> list[tuple[datetime, datetime]]:
    """(from, to) of every task run's Running state: its timestamp and the next state's."""
    spells = []
    for flow_run_id in flow_run_ids:
        for task in all_task_runs(stub, flow_run_id=flow_run_id):
            states = history(stub, TASK, task.id)
            for st, after in zip(states, states[1:]):
                if st.type == RUNNING:
                    spells.append((st.timestamp.ToDatetime(), after.timestamp.ToDatetime()))
    return spells


def _most_at_once(spells: list[tuple[datetime, datetime]]) -> int:
    # A spell ending at the moment another starts does not overlap it: ends sort first.
    events = sorted([(start, 1) for start, _ in spells] + [(end, -1) for _, end in spells])
    most = held = 0
    for _, step in events:
        held += step
        most = max(most, held)
    return most
