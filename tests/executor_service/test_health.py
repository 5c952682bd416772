"""The executor's health checking and reflection, and a clean stop on SIGTERM."""

from __future__ import annotations

import signal
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ._harness import (
    CRASHED,
    FINAL,
    RUNNING,
    Cluster,
    module_entrypoint,
    read,
    submit,
    task_runs,
    wait_for,
    wait_state,
)


def test_health_check_serving(cluster):
    stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(cluster.executors[0].address))
    for service in ("", "cadenza.v1.Executor"):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
    try:
        stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND
    else:
        raise AssertionError("an unknown service should be NOT_FOUND")


def test_reflection_lists_the_executor_and_describes_it(cluster):
    stub = reflection_pb2_grpc.ServerReflectionStub(grpc.insecure_channel(cluster.executors[0].address))
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="cadenza.v1.Executor"),
    ]
    listed, described = list(stub.ServerReflectionInfo(iter(requests), timeout=5))
    names = {s.name for s in listed.list_services_response.service}
    assert {"cadenza.v1.Executor", "grpc.health.v1.Health"} <= names, names
    files = described.file_descriptor_response.file_descriptor_proto
    assert files and any(b"SubmitFlowRun" in blob for blob in files)


def test_sigterm_stops_the_executor_cleanly(tmp_path):
    own = Cluster.start(tmp_path / "cluster")
    try:
        orch, ex = own.orch(), own.ex()
        run_id = submit(
            ex, entrypoint=module_entrypoint("sleepy_loop"), params={"steps": 100, "seconds": 0.2}
        )
        wait_state(own, orch, run_id, RUNNING)
        wait_for(lambda: task_runs(orch, run_id), 5, "a task run", own)

        process = own.executors[0].process
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=8) == 0, own.logs()
        assert time.monotonic() - started < 6
        # The run it was running is reported at once (not left for its lease to lapse).
        run = read(orch, run_id)
        assert run.state.type == CRASHED, own.logs()
        assert "killed by SIGTERM" in run.state.message, run.state.message
        wait_for(
            lambda: all(t.state.type in FINAL for t in task_runs(orch, run_id)),
            3,
            "the interrupted run's task runs to end",
            own,
        )
    finally:
        own.stop()
