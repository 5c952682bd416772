"""Pausing and resuming flow runs over gRPC, and the server's pause-expiry loop."""

from __future__ import annotations

import time

from cadenza.v1 import orchestrator_pb2 as pb

from ._helpers import (
    ABORT,
    ACCEPT,
    FAILED,
    FLOW,
    PAUSED,
    REJECT,
    RUNNING,
    TASK,
    accepted,
    history,
    later,
    new_task,
    propose,
    read_flow,
    read_task,
    running_flow,
    sname,
    state,
    types,
    wait_until,
)

EXPIRED = "The flow was paused and never resumed."


def _resume(stub, flow_run_id: str, **kw) -> pb.ProposeStateResponse:
    return stub.ResumeFlowRun(pb.ResumeFlowRunRequest(flow_run_id=flow_run_id, **kw)).result


def test_pause_then_resume(stub):
    flow = running_flow(stub)
    paused = propose(stub, FLOW, flow.id, state(PAUSED, pause_key="approve", pause_timeout=later(60)))
    assert paused.status == ACCEPT, (sname(paused.status), paused.reason)
    assert paused.state.type == PAUSED and paused.state.details.pause_key == "approve"
    run = read_flow(stub, flow.id)
    assert run.state.id == paused.state.id
    assert "approve" in run.empirical_policy.pause_keys

    resumed = _resume(stub, flow.id, run_input_json='{"approved": true}')
    assert resumed.status == ACCEPT, (sname(resumed.status), resumed.reason)
    assert resumed.state.type == RUNNING
    run = read_flow(stub, flow.id)
    assert run.state.id == resumed.state.id
    assert run.run_count == 1  # a resume is not a new attempt
    assert types(history(stub, FLOW, flow.id))[-3:] == [
        "STATE_TYPE_RUNNING",
        "STATE_TYPE_PAUSED",
        "STATE_TYPE_RUNNING",
    ]

    # The same pause key does not fire twice: the run stays Running.
    again = propose(stub, FLOW, flow.id, state(PAUSED, pause_key="approve"))
    assert again.status == REJECT, sname(again.status)
    assert read_flow(stub, flow.id).state.type == RUNNING


def test_resume_of_a_run_that_is_not_paused_aborts(stub):
    flow = running_flow(stub)
    before = history(stub, FLOW, flow.id)
    resp = _resume(stub, flow.id)
    assert resp.status == ABORT, sname(resp.status)
    assert "not paused" in resp.reason
    assert len(history(stub, FLOW, flow.id)) == len(before)
    assert read_flow(stub, flow.id).state.type == RUNNING


def test_expired_pause_fails_the_run(stub):
    flow = running_flow(stub)
    accepted(stub, FLOW, flow.id, state(PAUSED, pause_key="k", pause_timeout=later(0.2)))
    started = time.monotonic()
    failed = wait_until(lambda: read_flow(stub, flow.id).state.type == FAILED, timeout=3.0)
    assert failed, read_flow(stub, flow.id).state
    assert time.monotonic() - started < 2.5
    run = read_flow(stub, flow.id)
    assert run.state.message == EXPIRED
    assert types(history(stub, FLOW, flow.id))[-2:] == ["STATE_TYPE_PAUSED", "STATE_TYPE_FAILED"]
    # Resuming now is refused: the run is no longer paused.
    assert _resume(stub, flow.id).status == ABORT


def test_task_of_a_paused_flow_is_not_ready(stub):
    flow = running_flow(stub)
    task = new_task(stub, flow.id)
    accepted(stub, FLOW, flow.id, state(PAUSED, pause_key="wait", pause_timeout=later(60)))
    resp = propose(stub, TASK, task.id, state(RUNNING))
    assert resp.status == REJECT, sname(resp.status)
    assert resp.state.type == PAUSED and resp.state.name == "NotReady"
    assert read_task(stub, task.id).state.type != RUNNING
    assert "STATE_TYPE_RUNNING" not in types(history(stub, TASK, task.id))

    _resume(stub, flow.id)
    assert propose(stub, TASK, task.id, state(RUNNING)).status == ACCEPT


def test_pause_of_a_run_that_is_not_running_is_refused(stub):
    flow = running_flow(stub)
    paused = accepted(stub, FLOW, flow.id, state(PAUSED, pause_key="a", pause_timeout=later(60)))
    resp = propose(stub, FLOW, flow.id, state(PAUSED, pause_key="b"))
    assert resp.status in (REJECT, ABORT), sname(resp.status)
    assert resp.reason
    assert resp.state.id == paused.id
    assert types(history(stub, FLOW, flow.id)).count("STATE_TYPE_PAUSED") == 1
    assert "b" not in read_flow(stub, flow.id).empirical_policy.pause_keys


def test_resume_after_the_pause_timed_out_is_rejected_with_failed(tmp_path):
    """Resuming goes through the rules: an expired pause answers REJECT with Failed, even
    before the expiry loop got to the run."""
    import grpc

    from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
    from orchestrator import BackgroundServer
    from orchestrator.config import ServerConfig

    srv = BackgroundServer.start(
        db_path=str(tmp_path / "slow-loop.db"), port=0, config=ServerConfig(pause_check_interval_seconds=3600)
    )
    try:
        with grpc.insecure_channel(srv.address) as ch:
            stub = pb_grpc.OrchestratorStub(ch)
            flow = running_flow(stub)
            accepted(stub, FLOW, flow.id, state(PAUSED, pause_key="k", pause_timeout=later(0.05)))
            time.sleep(0.1)
            resp = _resume(stub, flow.id)
            assert resp.status == REJECT, sname(resp.status)
            assert resp.state.type == FAILED and resp.state.message == EXPIRED
            run = read_flow(stub, flow.id)
            assert run.state.id == resp.state.id
    finally:
        srv.stop()


def test_pause_with_reschedule_needs_a_deployment(stub):
    flow = running_flow(stub)
    resp = propose(
        stub, FLOW, flow.id, state(PAUSED, pause_key="r", pause_reschedule=True, pause_timeout=later(60))
    )
    assert resp.status == ABORT, sname(resp.status)
    assert resp.reason
    assert read_flow(stub, flow.id).state.type == RUNNING
