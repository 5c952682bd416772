"""Bad input and faults: each a clear status code and an actionable message; the service keeps
answering, and no run is left unfinished."""

from __future__ import annotations

import json

import grpc
import pytest

from cadenza.v1 import executor_pb2 as epb
from cadenza.v1 import orchestrator_pb2 as pb

from ._harness import (
    BROKEN_FILE,
    COMPLETED,
    FAILED,
    FLOWS_FILE,
    PAUSED,
    count_flow_runs,
    deploy,
    module_entrypoint,
    read,
    rpc_error,
    submit,
    unique,
    wait_final,
    wait_state,
)

REFUSED_SUBMITS = [
    # (request fields, status, words the message must contain)
    (
        dict(deployment_name="no-such-deployment"),
        grpc.StatusCode.NOT_FOUND,
        ["no-such-deployment", "not found"],
    ),
    (
        dict(entrypoint="os:system"),
        grpc.StatusCode.PERMISSION_DENIED,
        ["os:system", "not allowed", "CADENZA_ALLOWED_ENTRYPOINTS", "tests.executor_service"],
    ),
    (dict(entrypoint="tests.executor_service_evil:flow"), grpc.StatusCode.PERMISSION_DENIED, ["not allowed"]),
    (
        dict(entrypoint=f"{FLOWS_FILE}:quick"),
        grpc.StatusCode.PERMISSION_DENIED,
        ["file path", "cadenza deploy"],
    ),
    (
        dict(entrypoint="tests/executor_service/flows.py:quick"),
        grpc.StatusCode.PERMISSION_DENIED,
        ["file path"],
    ),
    (
        dict(entrypoint="tests.executor_service.missing:quick"),
        grpc.StatusCode.NOT_FOUND,
        [
            "tests.executor_service.missing",
            "not found",
            "check the entrypoint",
            "package.module:flow_function",
        ],
    ),
    # The module is there but the flow is not: NOT_FOUND too, naming the module, its file and
    # the function looked for.
    (
        dict(entrypoint=module_entrypoint("no_such_flow")),
        grpc.StatusCode.NOT_FOUND,
        [
            "no flow 'no_such_flow'",
            "tests.executor_service.flows",
            "flows.py",
            "package.module:flow_function",
        ],
    ),
    (
        dict(entrypoint=module_entrypoint("Opaque")),
        grpc.StatusCode.NOT_FOUND,
        ["no flow 'Opaque'", "flows.py", "a class, not a flow: decorate it with @flow"],
    ),
    (
        dict(entrypoint="tests.executor_service.broken_flows:anything"),
        grpc.StatusCode.FAILED_PRECONDITION,
        ["cannot be loaded", "fails on import on purpose", "Fix the module"],
    ),
    (dict(entrypoint="tests.executor_service.flows"), grpc.StatusCode.INVALID_ARGUMENT, ["module:flow"]),
    (
        dict(entrypoint=module_entrypoint("quick"), parameters_json="{not json"),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["parameters_json", "not valid JSON"],
    ),
    (
        dict(entrypoint=module_entrypoint("quick"), parameters_json="[1, 2]"),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["parameters_json", "JSON object"],
    ),
    (
        dict(entrypoint=module_entrypoint("quick"), parameters_json='"x"'),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["JSON object"],
    ),
    (
        dict(entrypoint=module_entrypoint("quick"), parameters_json='{"x": ' + "[" * 5000 + "]" * 5000 + "}"),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["parameters_json", "deep"],
    ),
    (
        dict(deployment_name="anything", entrypoint=module_entrypoint("quick")),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["exactly one", "deployment_name", "entrypoint"],
    ),
    (dict(), grpc.StatusCode.INVALID_ARGUMENT, ["exactly one", "deployment_name", "entrypoint"]),
]


@pytest.mark.parametrize(
    "fields, code, words",
    REFUSED_SUBMITS,
    ids=[f"{c.name}-{i}" for i, (_, c, _) in enumerate(REFUSED_SUBMITS)],
)
def test_refused_submit_is_clear_and_creates_nothing(cluster, orch, ex, fields, code, words):
    before = count_flow_runs(orch)
    error = rpc_error(ex.SubmitFlowRun, epb.SubmitFlowRunRequest(**fields))
    assert error.code() == code, error.details()
    for word in words:
        assert word in error.details(), (word, error.details())
    if code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION) and "entrypoint" in fields:
        assert "deploy" not in error.details(), error.details()  # no deployment is involved
    assert count_flow_runs(orch) == before  # nothing was created, so nothing is left unfinished
    ex.ListDeployments(pb.ListDeploymentsRequest())  # and the executor still answers


def test_malformed_parameters_of_a_deployment_run_are_refused(cluster, orch, ex):
    dep = deploy(orch, "quick")
    before = count_flow_runs(orch)
    error = rpc_error(
        ex.SubmitFlowRun, epb.SubmitFlowRunRequest(deployment_name=dep.name, parameters_json="{")
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "not valid JSON" in error.details()
    assert count_flow_runs(orch) == before


def test_parameters_failing_validation_are_refused_at_submit(cluster, orch, ex):
    before = count_flow_runs(orch)
    for params, word in (({"count": "many"}, "valid integer"), ({"counts": 3}, "counts")):
        error = rpc_error(
            ex.SubmitFlowRun,
            epb.SubmitFlowRunRequest(
                entrypoint=module_entrypoint("typed"), parameters_json=json.dumps(params)
            ),
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        assert "parameters do not fit flow" in error.details() and word in error.details(), error.details()
    dep = deploy(orch, "typed")
    error = rpc_error(
        ex.SubmitFlowRun,
        epb.SubmitFlowRunRequest(deployment_name=dep.name, parameters_json='{"count": "many"}'),
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert count_flow_runs(orch) == before


def test_a_run_with_invalid_parameters_made_elsewhere_ends_failed(cluster, orch, ex):
    """A run created straight at the orchestrator skips the executor's check; the engine
    validates again, and the run ends Failed without running its body."""
    dep = deploy(orch, "typed")
    run_id = orch.CreateFlowRunFromDeployment(
        pb.CreateFlowRunFromDeploymentRequest(name=dep.name, parameters_json='{"count": "many"}')
    ).flow_run.id
    run = wait_final(cluster, orch, run_id)
    assert run.state.type == FAILED, cluster.logs()
    message = run.state.message
    assert message.startswith("Validation of flow parameters failed with error: ParameterTypeError"), message
    assert "count" in message, message


UNLOADABLE = [
    (f"{BROKEN_FILE}:anything", ["broken_flows.py", "RuntimeError", "fails on import on purpose"]),
    (f"{FLOWS_FILE}:no_such_flow", ["no attribute 'no_such_flow'"]),
    (f"{FLOWS_FILE}:Opaque", ["is not a flow"]),
    ("tests.executor_service.gone:flow", ["tests.executor_service.gone"]),
]
UNLOADABLE_IDS = ["raises-on-import", "missing-attribute", "not-a-flow", "missing-module"]


@pytest.mark.parametrize("entrypoint, words", UNLOADABLE, ids=UNLOADABLE_IDS)
def test_a_flow_that_cannot_be_loaded_is_refused_at_submit(cluster, orch, ex, entrypoint, words):
    dep = deploy(orch, "unloadable", entrypoint=entrypoint)
    before = count_flow_runs(orch)
    error = rpc_error(ex.SubmitFlowRun, epb.SubmitFlowRunRequest(deployment_name=dep.name))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
    assert "cannot be loaded" in error.details(), error.details()
    assert dep.name in error.details() and "redeploy" in error.details(), error.details()
    for word in words:
        assert word in error.details(), (word, error.details())
    assert count_flow_runs(orch) == before


@pytest.mark.parametrize("entrypoint, words", UNLOADABLE, ids=UNLOADABLE_IDS)
def test_a_scheduled_run_of_a_flow_that_cannot_be_loaded_ends_failed(cluster, orch, ex, entrypoint, words):
    dep = deploy(orch, "unloadable", entrypoint=entrypoint)
    run_id = orch.CreateFlowRunFromDeployment(
        pb.CreateFlowRunFromDeploymentRequest(name=dep.name)
    ).flow_run.id
    run = wait_final(cluster, orch, run_id)
    assert run.state.type == FAILED, cluster.logs()
    assert run.state.message.startswith("Flow could not be retrieved from deployment."), run.state.message
    for word in words:
        assert word in run.state.message, (word, run.state.message)
    details = ex.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=run_id))
    assert not details.has_result and "FAILED" in details.result_note


def test_cancel_of_a_finished_run_and_resume_of_a_run_not_paused(cluster, orch, ex):
    run_id = submit(ex, entrypoint=module_entrypoint("quick"))
    assert wait_final(cluster, orch, run_id).state.type == COMPLETED, cluster.logs()

    error = rpc_error(ex.CancelFlowRun, epb.CancelFlowRunRequest(flow_run_id=run_id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
    assert run_id in error.details() and "already COMPLETED" in error.details()

    error = rpc_error(ex.ResumeFlowRun, pb.ResumeFlowRunRequest(flow_run_id=run_id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
    assert "not paused" in error.details()

    error = rpc_error(ex.ResumeFlowRun, pb.ResumeFlowRunRequest(flow_run_id=run_id, run_input_json="{oops"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "not valid JSON" in error.details()
    assert "run_input_json" in error.details()  # the field that was sent
    nested = "[" * 5000 + "]" * 5000
    error = rpc_error(ex.ResumeFlowRun, pb.ResumeFlowRunRequest(flow_run_id=run_id, run_input_json=nested))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "run_input_json" in error.details()

    # Neither changed the run.
    details = ex.ReadFlowRun(pb.ReadFlowRunRequest(flow_run_id=run_id))
    assert details.flow_run.state.type == COMPLETED and json.loads(details.result_json) == "ok"


@pytest.mark.parametrize("service", ["executor", "orchestrator"])
@pytest.mark.parametrize("run_input", ["[1, 2]", "null"])
def test_run_input_must_be_a_json_object_on_both_services(cluster, orch, ex, service, run_input):
    """Run input is a JSON object of input names to values (or empty); both services refuse
    anything else alike, naming the field that was sent."""
    run_id = submit(ex, entrypoint=module_entrypoint("pause_here"), params={"timeout": 20})
    wait_state(cluster, orch, run_id, PAUSED)
    stub = ex if service == "executor" else orch
    error = rpc_error(
        stub.ResumeFlowRun, pb.ResumeFlowRunRequest(flow_run_id=run_id, run_input_json=run_input)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "run_input_json must be a JSON object" in error.details(), error.details()
    assert "parameter" not in error.details(), error.details()
    assert read(orch, run_id).state.type == PAUSED  # refused, so still paused
    ex.CancelFlowRun(epb.CancelFlowRunRequest(flow_run_id=run_id))


@pytest.mark.parametrize(
    "method, request_type",
    [
        ("ReadFlowRun", pb.ReadFlowRunRequest),
        ("CancelFlowRun", epb.CancelFlowRunRequest),
        ("ResumeFlowRun", pb.ResumeFlowRunRequest),
        ("WatchFlowRun", pb.WatchFlowRunRequest),
    ],
)
def test_unknown_and_malformed_run_ids(cluster, ex, method, request_type):
    missing = "00000000-0000-4000-8000-000000000000"

    def call(run_id):
        result = getattr(ex, method)(request_type(flow_run_id=run_id))
        if method == "WatchFlowRun":
            list(result)

    error = rpc_error(call, missing)
    assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
    assert missing in error.details()
    error = rpc_error(call, "not-a-uuid")
    assert error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), error.details()
    assert "not-a-uuid" in error.details() or "flow_run_id" in error.details(), error.details()


def test_deployment_names_are_listed(cluster, orch, ex):
    name = unique("listed")
    deploy(orch, "quick", name=name)
    names = [d.name for d in ex.ListDeployments(pb.ListDeploymentsRequest()).deployments]
    assert name in names
