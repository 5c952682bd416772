"""What an orchestrator restarted on the same database still knows."""

from __future__ import annotations

import grpc
import pytest

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from orchestrator import BackgroundServer

from ._helpers import (
    COMPLETED,
    FAILED,
    FLOW,
    PAUSED,
    RUNNING,
    TASK,
    WAIT,
    accepted,
    history,
    ids,
    later,
    new_task,
    propose,
    read_flow,
    read_task,
    running_flow,
    state,
    types,
    uid,
    wait_until,
)


@pytest.fixture
def restart(server, database):
    """restart() stops the server and starts a new one on the same database; returns a stub."""
    started: list = []
    channels: list = []

    def again() -> pb_grpc.OrchestratorStub:
        (started[-1] if started else server).stop()
        srv = BackgroundServer.start(db_path=database, port=0)
        started.append(srv)
        ch = grpc.insecure_channel(srv.address)
        channels.append(ch)
        return pb_grpc.OrchestratorStub(ch)

    yield again
    for ch in channels:
        ch.close()
    for srv in started:
        srv.stop()


def test_an_older_transition_id_repeated_after_a_restart_changes_nothing(stub, restart):
    flow = running_flow(stub)
    task = new_task(stub, flow.id)
    t_running, t_done = uid(), uid()
    first = propose(stub, TASK, task.id, state(RUNNING, transition_id=t_running))
    done = propose(stub, TASK, task.id, state(COMPLETED, transition_id=t_done))
    before = ids(history(stub, TASK, task.id))

    stub = restart()
    # A late duplicate of the RUNNING proposal must not start the completed task again.
    again = propose(stub, TASK, task.id, state(RUNNING, transition_id=t_running))
    assert again.state.id == first.state.id
    assert ids(history(stub, TASK, task.id)) == before
    assert propose(stub, TASK, task.id, state(COMPLETED, transition_id=t_done)).state.id == done.state.id
    assert read_task(stub, task.id).state.id == done.state.id


def test_current_transition_id_is_replayed_after_a_restart(stub, restart):
    flow = running_flow(stub)
    task = new_task(stub, flow.id, empirical_policy=pb.TaskRunPolicy(retries=1, retry_delay_seconds=[0]))
    accepted(stub, TASK, task.id, state(RUNNING))
    tid = uid()
    retry = propose(stub, TASK, task.id, state(FAILED, transition_id=tid))
    assert retry.state.name == "AwaitingRetry"

    stub = restart()
    again = propose(stub, TASK, task.id, state(FAILED, transition_id=tid))
    assert again.status == retry.status and again.state.id == retry.state.id
    assert types(history(stub, TASK, task.id)).count("STATE_TYPE_SCHEDULED") == 1


def test_slots_limits_and_cache_survive_a_restart(stub, restart):
    stub.CreateConcurrencyLimit(pb.CreateConcurrencyLimitRequest(tag="db", concurrency_limit=1))
    flow = running_flow(stub)
    holder = new_task(stub, flow.id, "holder", tags=["db"], next_state=state(RUNNING))
    producer = new_task(stub, flow.id, "producer", next_state=state(RUNNING))
    accepted(stub, TASK, producer.id, state(COMPLETED, persisted="r.json", cache_key="kept"))

    stub = restart()
    limit = stub.ReadConcurrencyLimit(pb.ReadConcurrencyLimitRequest(tag="db")).concurrency_limit
    assert list(limit.active_slots) == [holder.id]
    waiter = new_task(stub, flow.id, "waiter", tags=["db"])
    assert propose(stub, TASK, waiter.id, state(RUNNING)).status == WAIT
    consumer = new_task(stub, flow.id, "consumer")
    hit = propose(stub, TASK, consumer.id, state(RUNNING, cache_key="kept"))
    assert hit.state.name == "Cached" and hit.state.data.storage_key == "r.json"


def test_a_pause_that_expired_while_the_server_was_down_fails_the_run(stub, restart):
    flow = running_flow(stub)
    accepted(stub, FLOW, flow.id, state(PAUSED, pause_key="k", pause_timeout=later(0.8)))
    stub = restart()
    assert read_flow(stub, flow.id).state.type == PAUSED  # the new server's loop must do it
    assert wait_until(lambda: read_flow(stub, flow.id).state.type == FAILED, timeout=3.0)
    assert read_flow(stub, flow.id).state.message == "The flow was paused and never resumed."


def test_names_and_keys_with_nul_and_backslashes_are_kept_apart(stub, restart):
    # PostgreSQL's text cannot hold NUL: its store escapes it, and must not confuse "a\0" (NUL)
    # with "a\\0" (a backslash and a zero). The restart makes the lookups go to the store.
    nul = stub.CreateFlowRun(
        pb.CreateFlowRunRequest(flow_name="a\x00b", tags=["t\x00"], idempotency_key="k\x00")
    )
    slash = stub.CreateFlowRun(
        pb.CreateFlowRunRequest(flow_name="a\\0b", tags=["t\\0"], idempotency_key="k\\0")
    )
    assert nul.created and slash.created and nul.flow_run.id != slash.flow_run.id

    stub = restart()
    for key, made in (("k\x00", nul), ("k\\0", slash)):
        again = stub.CreateFlowRun(pb.CreateFlowRunRequest(flow_name="other", idempotency_key=key))
        assert not again.created and again.flow_run.id == made.flow_run.id

    def listed(**kw):
        return [r.id for r in stub.ListFlowRuns(pb.ListFlowRunsRequest(**kw)).flow_runs]

    assert listed(flow_name="a\x00b") == [nul.flow_run.id]
    assert listed(flow_name="a\\0b") == [slash.flow_run.id]
    # (a tag with NUL is not asserted: SQLite's json_each does not find it, as before)
    assert listed(tags=["t\\0"]) == [slash.flow_run.id]
    assert read_flow(stub, nul.flow_run.id).flow_name == "a\x00b"
