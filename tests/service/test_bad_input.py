"""Bad input: the right status code, a message naming the field, no crash, nothing half-written.

Each case runs against a small world (a running flow run with one task run); afterwards the
service must still answer and the world must be exactly as it was.
"""

from __future__ import annotations

import grpc
import pytest

from cadenza.v1 import orchestrator_pb2 as pb

from ._bad_input_cases import CASES, INVALID
from ._helpers import (
    COMPLETED,
    FLOW,
    RUNNING,
    expect_error,
    history,
    ids,
    read_flow,
    running_flow,
    snapshot,
    state,
)


@pytest.mark.parametrize("rpc,build,code,needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(stub, world, rpc, build, code, needle):
    before = snapshot(stub, world)
    expect_error(code, getattr(stub, rpc), build(world), names_field=needle)
    # Still answering, and nothing was half-written.
    assert read_flow(stub, world.flow).state.type == RUNNING
    assert snapshot(stub, world) == before


def test_a_state_id_in_use_elsewhere_is_never_stored_twice(stub, world):
    taken = read_flow(stub, world.flow).state.id
    other = running_flow(stub)
    try:
        resp = stub.ProposeState(
            pb.ProposeStateRequest(run_kind=FLOW, run_id=other.id, state=state(COMPLETED, id=taken))
        )
    except grpc.RpcError as exc:
        assert exc.code() in (INVALID, grpc.StatusCode.ALREADY_EXISTS), exc.details()
        assert "state.id" in exc.details()
    else:  # the server may also name the state itself
        assert resp.state.id != taken
    assert taken not in ids(history(stub, FLOW, other.id))
