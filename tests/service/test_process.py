"""The orchestrator as a process: SIGKILL loses no accepted state; SIGTERM exits cleanly;
health checking and server reflection are served."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import orchestrator_pb2_grpc as pb_grpc

from ._helpers import (
    ACCEPT,
    COMPLETED,
    FLOW,
    PENDING,
    RUNNING,
    TASK,
    TIMEOUT,
    history,
    read_flow,
    read_task,
    state,
)

WORKERS = 4


class Ledger:
    """What the clients were told: ACCEPTed state ids per run, and what was still in flight."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: dict[tuple[int, str], list[str]] = defaultdict(list)
        self.in_flight: dict[tuple[int, str], int] = {}  # run -> state type proposed, unanswered
        self.count = 0

    def sending(self, kind: int, run_id: str, state_type: int) -> None:
        with self.lock:
            self.in_flight[(kind, run_id)] = state_type

    def accept(self, kind: int, run_id: str, state_id: str) -> None:
        with self.lock:
            self.accepted[(kind, run_id)].append(state_id)
            self.in_flight.pop((kind, run_id), None)
            self.count += 1


def _workload(address: str, ledger: Ledger, stop: threading.Event) -> None:
    """Flow runs with three task runs each, driven to completion, until the server dies."""
    with grpc.insecure_channel(address) as ch:
        stub = pb_grpc.OrchestratorStub(ch)
        try:
            while not stop.is_set():
                created = stub.CreateFlowRun(pb.CreateFlowRunRequest(flow_name="durable"), timeout=TIMEOUT)
                flow_id = created.flow_run.id
                ledger.accept(FLOW, flow_id, created.flow_run.state.id)
                _step(stub, ledger, FLOW, flow_id, RUNNING)
                for k in range(3):
                    made = stub.CreateTaskRun(
                        pb.CreateTaskRunRequest(
                            flow_run_id=flow_id, task_key=f"t{k}", next_state=state(RUNNING)
                        ),
                        timeout=TIMEOUT,
                    )
                    assert made.next_state_result.status == ACCEPT
                    ledger.accept(TASK, made.task_run.id, made.next_state_result.state.id)
                    _step(stub, ledger, TASK, made.task_run.id, COMPLETED)
                _step(stub, ledger, FLOW, flow_id, COMPLETED)
        except grpc.RpcError as exc:
            if exc.code() not in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DEADLINE_EXCEEDED,
                grpc.StatusCode.CANCELLED,
                grpc.StatusCode.UNKNOWN,
                grpc.StatusCode.INTERNAL,
            ):
                raise


def _step(stub, ledger: Ledger, kind: int, run_id: str, state_type: int) -> None:
    ledger.sending(kind, run_id, state_type)
    resp = stub.ProposeState(
        pb.ProposeStateRequest(run_kind=kind, run_id=run_id, state=state(state_type)), timeout=TIMEOUT
    )
    assert resp.status == ACCEPT, resp
    ledger.accept(kind, run_id, resp.state.id)


def test_sigkill_mid_workload_loses_no_accepted_state(server_process, database):
    first = server_process(database)
    ledger, stop = Ledger(), threading.Event()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            _workload(first.address, ledger, stop)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while ledger.count < 300 and time.monotonic() < deadline and not errors:
        time.sleep(0.01)
    first.kill()  # SIGKILL while the workers are still proposing
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert not errors, errors
    assert ledger.count >= 300

    second = server_process(first.db)
    with grpc.insecure_channel(second.address) as ch:
        stub = pb_grpc.OrchestratorStub(ch)
        for (kind, run_id), accepted in ledger.accepted.items():
            states = history(stub, kind, run_id)
            stored = [s.id for s in states]
            missing = [sid for sid in accepted if sid not in stored]
            assert not missing, f"accepted states lost for {run_id}: {missing}"
            # In the order they were accepted.
            assert [sid for sid in stored if sid in set(accepted)] == accepted
            run = read_flow(stub, run_id) if kind == FLOW else read_task(stub, run_id)
            assert stored[0] == accepted[0] if kind == FLOW else states[0].type == PENDING
            # Current is the last accepted state, unless the proposal that was unanswered when
            # the server died had been committed: then it is that one, and nothing else.
            after = states[stored.index(accepted[-1]) + 1 :]
            unanswered = ledger.in_flight.get((kind, run_id))
            assert len(after) <= 1 and all(s.type == unanswered for s in after), after
            assert run.state.id == stored[-1]
        # The restarted service keeps working on the same database.
        done = stub.CreateFlowRun(pb.CreateFlowRunRequest(flow_name="after-restart"), timeout=TIMEOUT)
        assert done.created


def test_sigterm_exits_zero_promptly_and_serves_health_and_reflection(server_process, database):
    proc = server_process(database)
    with grpc.insecure_channel(proc.address) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for service in ("", "cadenza.v1.Orchestrator"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING

        reflect = reflection_pb2_grpc.ServerReflectionStub(ch)
        replies = list(
            reflect.ServerReflectionInfo(
                iter(
                    [
                        reflection_pb2.ServerReflectionRequest(list_services=""),
                        reflection_pb2.ServerReflectionRequest(
                            file_containing_symbol="cadenza.v1.Orchestrator"
                        ),
                    ]
                ),
                timeout=TIMEOUT,
            )
        )
        listed = {s.name for s in replies[0].list_services_response.service}
        assert "cadenza.v1.Orchestrator" in listed
        assert "grpc.health.v1.Health" in listed
        assert replies[1].file_descriptor_response.file_descriptor_proto, replies[1]

        run = (
            pb_grpc.OrchestratorStub(ch)
            .CreateFlowRun(pb.CreateFlowRunRequest(flow_name="before-sigterm"), timeout=TIMEOUT)
            .flow_run
        )

    started = time.monotonic()
    proc.terminate()
    assert proc.proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 3.0

    # What was answered before the shutdown is there after it.
    again = server_process(proc.db)
    with grpc.insecure_channel(again.address) as ch:
        stub = pb_grpc.OrchestratorStub(ch)
        assert read_flow(stub, run.id).state.id == run.state.id
