"""Shared-token authentication: `authorization: Bearer <token>` on every call but health checks."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from orchestrator import BackgroundServer
from orchestrator.config import ServerConfig

from ._helpers import FLOW, RUNNING, TIMEOUT, state

TOKEN = "s3cret-token"


@pytest.fixture
def secured(tmp_path):
    srv = BackgroundServer.start(
        db_path=str(tmp_path / "auth.db"), port=0, config=ServerConfig(api_token=TOKEN)
    )
    ch = grpc.insecure_channel(srv.address)
    yield pb_grpc.OrchestratorStub(ch), ch
    ch.close()
    srv.stop()


def _unauthenticated(call) -> str:
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED, info.value.details()
    return info.value.details()


def test_calls_need_the_right_bearer_token(secured):
    stub, _ = secured
    request = pb.CreateFlowRunRequest(flow_name="f")
    missing = _unauthenticated(lambda: stub.CreateFlowRun(request, timeout=TIMEOUT))
    assert "authorization" in missing
    _unauthenticated(
        lambda: stub.CreateFlowRun(request, timeout=TIMEOUT, metadata=[("authorization", "Bearer wrong")])
    )
    _unauthenticated(
        lambda: stub.CreateFlowRun(request, timeout=TIMEOUT, metadata=[("authorization", TOKEN)])
    )  # no "Bearer "

    good = [("authorization", f"Bearer {TOKEN}")]
    made = stub.CreateFlowRun(request, timeout=TIMEOUT, metadata=good)
    assert made.created
    # Refused calls created nothing.
    runs = stub.ListFlowRuns(pb.ListFlowRunsRequest(), timeout=TIMEOUT, metadata=good).flow_runs
    assert [r.id for r in runs] == [made.flow_run.id]

    # Streams are guarded too.
    _unauthenticated(
        lambda: list(stub.WatchFlowRun(pb.WatchFlowRunRequest(flow_run_id=made.flow_run.id), timeout=TIMEOUT))
    )
    _unauthenticated(
        lambda: list(
            stub.ProposeStates(
                iter(
                    [
                        pb.ProposeStatesRequest(
                            request_id=1,
                            propose=pb.ProposeStateRequest(
                                run_kind=FLOW, run_id=made.flow_run.id, state=state(RUNNING)
                            ),
                        )
                    ]
                ),
                timeout=TIMEOUT,
            )
        )
    )
    answers = list(
        stub.ProposeStates(
            iter(
                [
                    pb.ProposeStatesRequest(
                        request_id=1,
                        propose=pb.ProposeStateRequest(
                            run_kind=FLOW, run_id=made.flow_run.id, state=state(RUNNING)
                        ),
                    )
                ]
            ),
            timeout=TIMEOUT,
            metadata=good,
        )
    )
    assert [a.request_id for a in answers] == [1]
    assert answers[0].proposal.status == pb.PROPOSAL_STATUS_ACCEPT


def test_health_check_stays_open(secured):
    _, channel = secured
    health = health_pb2_grpc.HealthStub(channel)
    answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
