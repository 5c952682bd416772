"""Input an attacker or a fuzzer sends: out-of-range times, NaN and huge numbers, forged page
tokens, thousands of tags, deeply nested JSON, huge ids, bodies that do not decode. Each gets
INVALID_ARGUMENT naming the field (never INTERNAL or UNKNOWN), quickly, and changes nothing."""

from __future__ import annotations

import base64
import math
import time

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from cadenza.v1 import orchestrator_pb2 as pb
from orchestrator import BackgroundServer

from ._helpers import FLOW, RUNNING, TASK, BidiStream, expect_error, read_flow, snapshot, state

INVALID = grpc.StatusCode.INVALID_ARGUMENT
FAR = Timestamp(seconds=10**12)
NESTED = "[" * 5000 + "]" * 5000
NESTED_OBJECT = '{"x": ' + "[" * 200 + "]" * 200 + "}"


def _token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode()


def _far_state(where: str):
    st = state(RUNNING)
    if where == "timestamp":
        st.timestamp.CopyFrom(FAR)
    else:
        getattr(st.details, where).CopyFrom(FAR)
    return st


def _task_policy(**kw) -> pb.TaskRunPolicy:
    return pb.TaskRunPolicy(**kw)


CASES = [
    # -- times out of range ------------------------------------------------------------------
    *[
        (
            f"time-{where}",
            "ProposeState",
            lambda w, where=where: pb.ProposeStateRequest(
                run_kind=TASK, run_id=w.task, state=_far_state(where)
            ),
            "timestamp" if where == "timestamp" else where,
        )
        for where in ("timestamp", "scheduled_time", "cache_expiration", "pause_timeout")
    ],
    (
        "time-log",
        "WriteLogs",
        lambda w: pb.WriteLogsRequest(
            logs=[pb.LogEntry(flow_run_id=w.flow, level=20, logger_name="t", message="m", timestamp=FAR)]
        ),
        "logs[0].timestamp",
    ),
    # -- numbers that are no durations ----------------------------------------------------------
    *[
        (
            f"lease-{value}",
            "ClaimFlowRuns",
            lambda w, value=value: pb.ClaimFlowRunsRequest(worker_id="w", limit=1, lease_seconds=value),
            "lease_seconds",
        )
        for value in (math.nan, math.inf, -1.0, 0.0, 1e12)
    ],
    (
        "wait-nan",
        "ClaimFlowRuns",
        lambda w: pb.ClaimFlowRunsRequest(worker_id="w", limit=1, lease_seconds=5, wait_seconds=math.nan),
        "wait_seconds",
    ),
    (
        "heartbeat-nan",
        "Heartbeat",
        lambda w: pb.HeartbeatRequest(worker_id="w", flow_run_ids=[w.flow], lease_seconds=math.nan),
        "lease_seconds",
    ),
    *[
        (
            f"flow-retry-delay-{value}",
            "CreateFlowRun",
            lambda w, value=value: pb.CreateFlowRunRequest(
                flow_name="f", empirical_policy=pb.FlowRunPolicy(retries=1, retry_delay_seconds=value)
            ),
            "empirical_policy.retry_delay_seconds",
        )
        for value in (math.nan, 1e12, -math.inf)
    ],
    (
        "task-retry-delay-nan",
        "CreateTaskRun",
        lambda w: pb.CreateTaskRunRequest(
            flow_run_id=w.flow,
            task_key="t9",
            empirical_policy=_task_policy(retries=1, retry_delay_seconds=[1, math.nan]),
        ),
        "empirical_policy.retry_delay_seconds[1]",
    ),
    (
        "task-jitter-inf",
        "CreateTaskRun",
        lambda w: pb.CreateTaskRunRequest(
            flow_run_id=w.flow,
            task_key="t9",
            empirical_policy=_task_policy(retries=1, retry_jitter_factor=math.inf),
        ),
        "empirical_policy.retry_jitter_factor",
    ),
    (
        "schedule-interval-nan",
        "CreateDeployment",
        lambda w: pb.CreateDeploymentRequest(
            name="d", flow_name="f", entrypoint="m:f", schedule=pb.Schedule(interval_seconds=math.nan)
        ),
        "schedule.interval_seconds",
    ),
    # -- page tokens, tags, JSON, ids ------------------------------------------------------------
    (
        "page-token-huge",
        "ListFlowRuns",
        lambda w: pb.ListFlowRunsRequest(page_token=_token(2**70)),
        "page_token",
    ),
    (
        "page-token-negative",
        "ReadLogs",
        lambda w: pb.ReadLogsRequest(flow_run_id=w.flow, page_token=_token(-5)),
        "page_token",
    ),
    (
        "tags-thousands",
        "ListFlowRuns",
        lambda w: pb.ListFlowRunsRequest(tags=[f"t{i}" for i in range(5000)]),
        "tags",
    ),
    (
        "tags-on-create",
        "CreateFlowRun",
        lambda w: pb.CreateFlowRunRequest(flow_name="f", tags=[f"t{i}" for i in range(500)]),
        "tags",
    ),
    (
        "tags-on-list-tasks",
        "ListTaskRuns",
        lambda w: pb.ListTaskRunsRequest(tags=["x"] * 3 + [f"t{i}" for i in range(500)]),
        "tags",
    ),
    (
        "params-nested",
        "CreateFlowRun",
        lambda w: pb.CreateFlowRunRequest(flow_name="f", parameters_json='{"a": ' + NESTED + "}"),
        "parameters_json",
    ),
    (
        "params-nested-shallow",
        "CreateFlowRun",
        lambda w: pb.CreateFlowRunRequest(flow_name="f", parameters_json=NESTED_OBJECT),
        "parameters_json",
    ),
    (
        "resume-input-nested",
        "ResumeFlowRun",
        lambda w: pb.ResumeFlowRunRequest(flow_run_id=w.flow, run_input_json=NESTED),
        "run_input_json",
    ),
    (
        "deployment-params-nested",
        "CreateDeployment",
        lambda w: pb.CreateDeploymentRequest(
            name="d", flow_name="f", entrypoint="m:f", parameters_json='{"a": ' + NESTED + "}"
        ),
        "parameters_json",
    ),
    ("id-huge", "ReadFlowRun", lambda w: pb.ReadFlowRunRequest(flow_run_id="x" * 200_000), "flow_run_id"),
]


@pytest.mark.parametrize("rpc,build,needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_refused_by_name(stub, world, rpc, build, needle):
    before = snapshot(stub, world)
    started = time.monotonic()
    details = expect_error(INVALID, getattr(stub, rpc), build(world), names_field=needle)
    assert time.monotonic() - started < 5, "refused, but only after waiting"
    assert len(details) < 1000, "the error echoes too much of the request"
    assert read_flow(stub, world.flow).state.type == RUNNING
    assert snapshot(stub, world) == before


@pytest.mark.parametrize(
    "method,kind",
    [
        ("/cadenza.v1.Orchestrator/ReadFlowRun", "unary_unary"),
        ("/cadenza.v1.Orchestrator/WatchFlowRun", "unary_stream"),
        ("/cadenza.v1.Orchestrator/ProposeStates", "stream_stream"),
    ],
)
def test_a_body_that_does_not_decode_is_invalid_argument(channel, method, kind):
    raw = getattr(channel, kind)(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    garbage = b"\xff\xff\xff\xff"
    with pytest.raises(grpc.RpcError) as info:
        if kind == "unary_unary":
            raw(garbage, timeout=5)
        elif kind == "unary_stream":
            list(raw(garbage, timeout=5))
        else:
            list(raw(iter([garbage]), timeout=5))
    assert info.value.code() == INVALID, info.value.details()
    assert "request message" in info.value.details()


def test_a_busy_port_is_refused(server, tmp_path):
    port = int(server.address.rsplit(":", 1)[1])
    with pytest.raises(OSError, match=f"{port}"):
        BackgroundServer.start(db_path=str(tmp_path / "other.db"), port=port)


def test_the_stream_still_answers_after_a_refused_request(stub, world):
    # A stream request with a bad time is answered with an error in place; the stream goes on.
    stream = BidiStream(stub)
    try:
        stream.propose(1, TASK, world.task, _far_state("scheduled_time"))
        stream.propose(2, FLOW, world.flow, state(RUNNING))  # a no-op RUNNING -> RUNNING
        first, second = stream.wait(1, 2)
        assert first.error.code == INVALID.value[0] and "scheduled_time" in first.error.message
        assert not second.HasField("error")
    finally:
        stream.close()


def test_an_undecodable_body_behind_packed_answers_is_invalid_argument(channel):
    # The answers to an envelope of creates are packed together; an undecodable body queued
    # among them must still be refused as INVALID_ARGUMENT, whatever the timing (it was UNKNOWN
    # when the refusal was packed as an answer).
    call = channel.stream_stream(
        "/cadenza.v1.Orchestrator/ProposeStates", None, pb.ProposeStatesResponse.FromString
    )
    create = pb.CreateFlowRunRequest(flow_name="packed")
    envelope = pb.ProposeStatesRequest(
        more=[pb.ProposeStatesRequest(request_id=i, create_flow_run=create) for i in range(3)]
    )
    codes = []
    for _ in range(40):
        with pytest.raises(grpc.RpcError) as info:
            list(call(iter([envelope.SerializeToString(), b"\xff"]), timeout=5))
        codes.append(info.value.code())
    assert set(codes) == {INVALID}, codes


def test_a_huge_name_in_a_refusal_is_cut_short(stub):
    # Echoed whole, a 70 kB name would not fit in the status and the client would see
    # RESOURCE_EXHAUSTED instead of NOT_FOUND.
    huge = "x" * 70_000
    for call, request in (
        (stub.ReadDeployment, pb.ReadDeploymentRequest(name=huge)),
        (stub.ReadConcurrencyLimit, pb.ReadConcurrencyLimitRequest(tag=huge)),
        (stub.CreateFlowRunFromDeployment, pb.CreateFlowRunFromDeploymentRequest(name=huge)),
    ):
        with pytest.raises(grpc.RpcError) as info:
            call(request, timeout=5)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND, info.value.details()
        assert "characters" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateFlowRun(pb.CreateFlowRunRequest(flow_name="f", entrypoint=huge), timeout=5)
    assert info.value.code() == INVALID and len(info.value.details()) < 1000
