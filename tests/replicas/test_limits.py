"""A tag's concurrency limit is one limit for the database, not one per replica: flows whose
clients use different replicas never hold more slots together than the limit."""

from __future__ import annotations

import threading
import time

import grpc

from cadenza.v1 import orchestrator_pb2 as pb
from tests.service._helpers import TIMEOUT

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
    peak = max(samples, default=0)
    print(f"peak of active slots for tag {TAG!r} (limit {LIMIT}): {peak} in {len(samples)} samples")
    assert not errors, errors[0]
    assert peak <= LIMIT, f"{peak} slots held at once with a limit of {LIMIT}"
    assert peak >= 1, "the sampler never saw a slot taken"
    for replica, out in zip(group, outputs):
        assert_each_task_ran_once(replica.stub, out.splitlines()[0].strip(), STEPS)
    assert active_slots(group[-1].stub, TAG) == 0, "a slot was never given back"
