"""Many clients proposing on one run at once: the stored history is one consistent chain."""

from __future__ import annotations

import threading
from collections import Counter

import grpc

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc

from ._helpers import (
    ACCEPT,
    COMPLETED,
    FAILED,
    FLOW,
    PENDING,
    REJECT,
    RUNNING,
    SCHEDULED,
    TASK,
    WAIT,
    history,
    new_flow,
    new_task,
    propose,
    read_flow,
    read_task,
    running_flow,
    sname,
    state,
)

CLIENTS = 20


def _race(address: str, work) -> list:
    """Run `work(stub, barrier)` on CLIENTS threads, each with its own channel; collect results."""
    barrier = threading.Barrier(CLIENTS)
    results: list = []
    errors: list = []
    lock = threading.Lock()

    def client() -> None:
        try:
            with grpc.insecure_channel(address) as ch:
                grpc.channel_ready_future(ch).result(timeout=5)
                got = work(pb_grpc.OrchestratorStub(ch), barrier)
            with lock:
                results.extend(got)
        except Exception as exc:  # surfaced in the main thread
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors, errors
    return results


def _check_chain(states, proposals, handed_out=()) -> None:
    """The history holds exactly the ACCEPTed states (plus the initial one and the replacement
    states REJECTs handed out), each stored once, right after the state its proposer expected."""
    stored = [s.id for s in states]
    assert len(stored) == len(set(stored)), "a state is stored twice"
    position = {sid: i for i, sid in enumerate(stored)}
    accepted = [(got, expected) for status, got, expected in proposals if status == ACCEPT]
    for got, expected in accepted:
        i = position[got]
        assert i > 0 and stored[i - 1] == expected, (
            f"state {got} stored after {stored[i - 1]}, its proposer expected {expected}"
        )
    assert set(stored[1:]) == {got for got, _ in accepted} | set(handed_out), (
        "a state no answer accounts for was stored"
    )


def test_twenty_clients_racing_pending_running_completed(server, stub):
    run = new_flow(stub)

    def work(client, barrier):
        out = []
        barrier.wait()
        for _ in range(4):
            current = read_flow(client, run.id).state
            if current.type == COMPLETED:
                break
            target = RUNNING if current.type == PENDING else COMPLETED
            resp = propose(client, FLOW, run.id, state(target), expected=current.id)
            assert resp.status in (ACCEPT, REJECT), (sname(resp.status), resp.reason)
            out.append((resp.status, resp.state.id, current.id))
        return out

    proposals = _race(server.address, work)
    states = history(stub, FLOW, run.id)
    assert [s.type for s in states] == [PENDING, RUNNING, COMPLETED]
    assert sum(1 for p in proposals if p[0] == ACCEPT) == 2
    _check_chain(states, proposals)
    final = read_flow(stub, run.id)
    assert final.state.id == states[-1].id and final.run_count == 1


def test_twenty_clients_racing_through_task_retries(server, stub):
    """A longer chain: Running -> Failed is turned into AwaitingRetry five times, then Failed."""
    flow = running_flow(stub)
    task = new_task(stub, flow.id, empirical_policy=pb.TaskRunPolicy(retries=5, retry_delay_seconds=[0]))

    def work(client, barrier):
        out = []
        barrier.wait()
        for _ in range(60):
            current = read_task(client, task.id).state
            if current.type == FAILED:
                break
            target = FAILED if current.type == RUNNING else RUNNING
            resp = propose(client, TASK, task.id, state(target), expected=current.id)
            assert resp.status in (ACCEPT, REJECT, WAIT), (sname(resp.status), resp.reason)
            if resp.status != WAIT:
                out.append((resp.status, resp.state.id, current.id))
        return out

    proposals = _race(server.address, work)
    states = history(stub, TASK, task.id)
    kinds = Counter(s.type for s in states)
    assert kinds[RUNNING] == 6 and kinds[SCHEDULED] == 5 and kinds[FAILED] == 1, states
    assert [s.type for s in states[:2]] == [PENDING, RUNNING] and states[-1].type == FAILED
    for before, after in zip(states, states[1:]):
        # Running and AwaitingRetry alternate: no two clients moved the run from the same state.
        assert before.type != after.type
    # Each AwaitingRetry was handed, as a REJECT, to a proposer of FAILED that expected the
    # Running state it replaced.
    for before, after in zip(states, states[1:]):
        if after.type == SCHEDULED:
            assert after.name == "AwaitingRetry"
            assert any(p[0] == REJECT and p[1] == after.id and p[2] == before.id for p in proposals)
    accepts = [p for p in proposals if p[0] == ACCEPT]
    assert len(accepts) == 7  # six RUNNING, one final FAILED
    _check_chain(states, proposals, handed_out=[s.id for s in states if s.type == SCHEDULED])
    assert read_task(stub, task.id).run_count == 6
