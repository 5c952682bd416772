"""Result references that come back from the orchestrator are not trusted: a client that plants
a Completed state with a cache key and a reference to a pickle of its own (over gRPC, as any
client may) gets nothing unpickled; the cached task runs again and replaces the entry. A
result file altered on disk is refused the same way. Each planted pickle creates a marker
file if it is ever loaded."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc
from cadenza.v1 import states_pb2 as spb
from executor import flow, task
from executor.exceptions import ResultIntegrityError
from tests.engine_unit._hostile import hostile_pickle

from ._util import flow_run_id, task_run_id, uniq

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def stub(orchestrator):
    channel = grpc.insecure_channel(orchestrator["address"])
    try:
        yield pb_grpc.OrchestratorStub(channel)
    finally:
        channel.close()


def _propose(stub, kind, run_id: str, state: spb.State) -> pb.ProposeStateResponse:
    request = pb.ProposeStateRequest(run_kind=kind, run_id=run_id, state=state)
    return stub.ProposeState(request, timeout=5)


def plant_cache_entry(stub, cache_key: str, storage_key: str) -> str:
    """A task run of the client's own, run to Completed under `cache_key` with a result
    reference to `storage_key`; returns its id."""
    flow_run = stub.CreateFlowRun(pb.CreateFlowRunRequest(flow_name=uniq("planter")), timeout=5).flow_run
    _propose(stub, pb.RUN_KIND_FLOW, flow_run.id, spb.State(type=spb.STATE_TYPE_RUNNING))
    request = pb.CreateTaskRunRequest(flow_run_id=flow_run.id, task_key="planted", dynamic_key="0")
    task_run = stub.CreateTaskRun(request, timeout=5).task_run
    _propose(stub, pb.RUN_KIND_TASK, task_run.id, spb.State(type=spb.STATE_TYPE_RUNNING))
    done = spb.State(type=spb.STATE_TYPE_COMPLETED)
    done.data.kind = spb.RESULT_KIND_PERSISTED
    done.data.storage_key = storage_key
    done.data.serializer = "cloudpickle"
    done.details.cache_key = cache_key
    assert _propose(stub, pb.RUN_KIND_TASK, task_run.id, done).status == pb.PROPOSAL_STATUS_ACCEPT
    return task_run.id


def cached_task_and_flow(cache_key: str, calls: list):
    @task(cache_key_fn=lambda context, parameters: cache_key)
    def cached(x):
        calls.append(x)
        return {"computed": x}

    @flow(name=uniq("sig-victim"))
    def victim(x):
        state = cached(x, return_state=True)
        return state.name, state.result(), task_run_id(state)

    return victim


@pytest.mark.parametrize(
    "where, why",
    [("storage", "predates result signing"), ("elsewhere", "outside the result storage")],
)
def test_a_planted_cache_entry_is_never_unpickled_and_the_task_runs_instead(
    stub, client, cadenza_home, tmp_path, where, why
):
    marker = tmp_path / "unpickled-marker"
    folder = cadenza_home / "storage" if where == "storage" else tmp_path / "elsewhere"
    folder.mkdir(parents=True, exist_ok=True)
    planted_file = folder / uuid.uuid4().hex
    planted_file.write_bytes(hostile_pickle(marker))
    key = uniq("sig-planted")
    planted_run = plant_cache_entry(stub, key, str(planted_file))

    calls: list = []
    victim = cached_task_and_flow(key, calls)
    name, value, run_id = victim(1)
    assert not marker.exists()
    assert (name, value, calls) == ("Completed", {"computed": 1}, [1])
    # The run was handed the planted entry, refused it, and ran.
    history = client.read_task_run_states(run_id)
    assert [s.name for s in history][-4:] == ["Cached", "Pending", "Running", "Completed"]
    assert why in history[-3].message

    # Its own result is now the newest entry for the key.
    assert victim(2)[:2] == ("Cached", {"computed": 1}) and calls == [1]
    # Reading the planted run's result from the API refuses it as clearly.
    with pytest.raises(ResultIntegrityError, match=why):
        client.read_task_run(planted_run).state.result()
    assert not marker.exists()


def test_a_cached_result_altered_on_disk_is_refused_and_the_task_runs_again(client):
    calls: list = []
    victim = cached_task_and_flow(uniq("sig-altered"), calls)
    name, _, run_id = victim(1)
    assert name == "Completed"
    path = client.read_task_run(run_id).state.result_ref.storage_key
    with open(path, "r+b") as file:  # the last byte of the payload
        file.seek(-1, 2)
        last = file.read(1)
        file.seek(-1, 2)
        file.write(bytes([last[0] ^ 0x01]))

    with pytest.raises(ResultIntegrityError, match="signature does not verify"):
        client.read_task_run(run_id).state.result()
    assert victim(2)[:2] == ("Completed", {"computed": 2}) and calls == [1, 2]


def test_a_persisted_flow_result_altered_on_disk_is_refused_from_the_api(client):
    @flow(name=uniq("sig-flow"), persist_result=True)
    def f():
        return {"answer": 42}

    state = f(return_state=True)
    api_state = client.read_flow_run(flow_run_id(state)).state
    assert api_state.result() == {"answer": 42}
    path = Path(api_state.result_ref.storage_key)
    blob = bytearray(path.read_bytes())
    blob[-2] ^= 0x01
    path.write_bytes(blob)
    with pytest.raises(ResultIntegrityError, match=r"signature does not verify \(written with another"):
        client.read_flow_run(flow_run_id(state)).state.result()
