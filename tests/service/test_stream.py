"""ProposeStates: the engine's bidirectional stream, many requests in flight, correlated by id."""

from __future__ import annotations

import grpc

from cadenza.v1 import orchestrator_pb2 as pb

from ._helpers import (
    ACCEPT,
    COMPLETED,
    FLOW,
    PENDING,
    RUNNING,
    TASK,
    BidiStream,
    history,
    read_flow,
    read_task,
    state,
    types,
    uid,
)

N = 30


def test_many_requests_in_flight_are_answered_by_request_id(stub):
    stream = BidiStream(stub)
    try:
        # Create N flow runs through the stream, all in flight at once.
        for i in range(N):
            stream.send(i + 1, create_flow_run=pb.CreateFlowRunRequest(flow_name=f"f{i}"))
        created = stream.wait(*range(1, N + 1))
        runs = {}
        for i, resp in enumerate(created):
            assert resp.request_id == i + 1
            assert resp.WhichOneof("response") == "flow_run_created", resp
            assert resp.flow_run_created.created
            assert resp.flow_run_created.flow_run.flow_name == f"f{i}"
            runs[i] = resp.flow_run_created.flow_run.id
        assert len(set(runs.values())) == N

        # Propose RUNNING on every run at once; each answer must be about its own run.
        for i in range(N):
            stream.propose(100 + i, FLOW, runs[i], state(RUNNING))
        for i, resp in enumerate(stream.wait(*range(100, 100 + N))):
            assert resp.WhichOneof("response") == "proposal"
            assert resp.proposal.status == ACCEPT
            assert resp.proposal.state.details.flow_run_id == runs[i]
            assert resp.proposal.run_count == 1

        # A task run created and moved to RUNNING in one request, for every flow run.
        for i in range(N):
            stream.send(
                200 + i,
                create_task_run=pb.CreateTaskRunRequest(
                    flow_run_id=runs[i], task_key="t", next_state=state(RUNNING)
                ),
            )
        for i, resp in enumerate(stream.wait(*range(200, 200 + N))):
            assert resp.WhichOneof("response") == "task_run_created", resp
            made = resp.task_run_created
            assert made.created
            assert made.task_run.flow_run_id == runs[i]
            assert made.next_state_result.status == ACCEPT
            assert made.next_state_result.state.type == RUNNING
            assert made.next_state_result.state.details.task_run_id == made.task_run.id
            task = read_task(stub, made.task_run.id)
            assert task.state.id == made.next_state_result.state.id and task.run_count == 1
            assert types(history(stub, TASK, task.id)) == ["STATE_TYPE_PENDING", "STATE_TYPE_RUNNING"]

        # Every request was answered exactly once.
        assert sorted(stream.order) == sorted(
            list(range(1, N + 1)) + list(range(100, 100 + N)) + list(range(200, 200 + N))
        )
    finally:
        stream.close()
    assert stream.error is None


def test_invalid_requests_in_the_stream_answer_with_error_and_the_stream_goes_on(stub):
    stream = BidiStream(stub)
    try:
        stream.send(1, create_flow_run=pb.CreateFlowRunRequest(flow_name="f"))
        run_id = stream.wait(1).flow_run_created.flow_run.id

        stream.propose(2, FLOW, "not-a-uuid", state(RUNNING))
        bad_id = stream.wait(2)
        assert bad_id.WhichOneof("response") == "error"
        assert bad_id.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert "run_id" in bad_id.error.message

        stream.propose(3, FLOW, uid(), state(RUNNING))
        missing = stream.wait(3)
        assert missing.WhichOneof("response") == "error"
        assert missing.error.code == grpc.StatusCode.NOT_FOUND.value[0]

        stream.send(4)  # no request at all
        empty = stream.wait(4)
        assert empty.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]

        stream.send(5, propose=pb.ProposeStateRequest(run_kind=FLOW, run_id=run_id))  # no state
        no_state = stream.wait(5)
        assert no_state.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert "state" in no_state.error.message

        stream.send(6, create_task_run=pb.CreateTaskRunRequest(flow_run_id=uid(), task_key="t"))
        assert stream.wait(6).error.code == grpc.StatusCode.NOT_FOUND.value[0]

        # Nothing of the above changed the run, and the stream still decides.
        assert read_flow(stub, run_id).state.type == PENDING
        stream.propose(7, FLOW, run_id, state(RUNNING))
        assert stream.wait(7).proposal.status == ACCEPT
        stream.propose(8, FLOW, run_id, state(COMPLETED))
        assert stream.wait(8).proposal.status == ACCEPT
        assert read_flow(stub, run_id).state.type == COMPLETED
    finally:
        stream.close()
    assert stream.error is None
    assert sorted(stream.order) == list(range(1, 9))


def test_an_envelope_carries_many_requests_and_gets_its_answers_packed(stub):
    """A client may send ready requests in one envelope message (`more`); each is answered
    under its own request_id, and since the client reads envelopes, answers ready together
    come back packed too. A bad request inside is answered with its error, not the stream's."""
    inner = [
        pb.ProposeStatesRequest(request_id=i, create_flow_run=pb.CreateFlowRunRequest(flow_name=f"env{i}"))
        for i in (1, 2, 3)
    ]
    inner.append(pb.ProposeStatesRequest(request_id=4))  # empty: invalid
    messages = list(stub.ProposeStates(iter([pb.ProposeStatesRequest(more=inner)]), timeout=10))
    answers = {a.request_id: a for resp in messages for a in (resp.more or [resp])}
    assert sorted(answers) == [1, 2, 3, 4]
    assert all(answers[i].flow_run_created.created for i in (1, 2, 3))
    assert answers[4].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert any(resp.more for resp in messages), "answers ready together were not packed"
    assert len(messages) < 4
