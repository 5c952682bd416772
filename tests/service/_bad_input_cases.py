"""The bad requests of test_bad_input: (id, rpc, request builder, code, text the message must
contain), each against a small world (a running flow run with one task run)."""

from __future__ import annotations

import grpc

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb

from ._helpers import FLOW, RUNNING, TASK, state

UNKNOWN = "7d5f2b1e-0000-4000-8000-000000000000"
NOT_FOUND = grpc.StatusCode.NOT_FOUND
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _type(value: int) -> spb.State:
    return spb.State(type=value, name="custom")


def _bad_kind() -> spb.State:
    st = state(RUNNING)
    st.data.kind = 9
    return st


def _log(flow_run_id: str, **kw) -> pb.LogEntry:
    return pb.LogEntry(flow_run_id=flow_run_id, level=20, logger_name="t", message="m", **kw)


# (id, rpc, request builder, code, text the message must contain)
CASES = [
    # -- unknown ids ---------------------------------------------------------------------
    (
        "read-flow-unknown",
        "ReadFlowRun",
        lambda w: pb.ReadFlowRunRequest(flow_run_id=UNKNOWN),
        NOT_FOUND,
        UNKNOWN,
    ),
    (
        "read-task-unknown",
        "ReadTaskRun",
        lambda w: pb.ReadTaskRunRequest(task_run_id=UNKNOWN),
        NOT_FOUND,
        UNKNOWN,
    ),
    (
        "propose-flow-unknown",
        "ProposeState",
        lambda w: pb.ProposeStateRequest(run_kind=FLOW, run_id=UNKNOWN, state=state(RUNNING)),
        NOT_FOUND,
        UNKNOWN,
    ),
    (
        "propose-task-unknown",
        "ProposeState",
        lambda w: pb.ProposeStateRequest(run_kind=TASK, run_id=UNKNOWN, state=state(RUNNING)),
        NOT_FOUND,
        UNKNOWN,
    ),
    (
        "propose-flow-id-as-task",
        "ProposeState",
        lambda w: pb.ProposeStateRequest(run_kind=TASK, run_id=w.flow, state=state(RUNNING)),
        NOT_FOUND,
        "task run",
    ),
    (
        "read-states-unknown",
        "ReadStates",
        lambda w: pb.ReadStatesRequest(run_kind=FLOW, run_id=UNKNOWN),
        NOT_FOUND,
        UNKNOWN,
    ),
    (
        "create-task-unknown-flow",
        "CreateTaskRun",
        lambda w: pb.CreateTaskRunRequest(flow_run_id=UNKNOWN, task_key="t2", next_state=state(RUNNING)),
        NOT_FOUND,
        UNKNOWN,
    ),
    (
        "create-flow-unknown-parent",
        "CreateFlowRun",
        lambda w: pb.CreateFlowRunRequest(flow_name="f", parent_task_run_id=UNKNOWN),
        NOT_FOUND,
        UNKNOWN,
    ),
    (
        "resume-unknown",
        "ResumeFlowRun",
        lambda w: pb.ResumeFlowRunRequest(flow_run_id=UNKNOWN),
        NOT_FOUND,
        UNKNOWN,
    ),
    (
        "set-state-unknown",
        "SetFlowRunState",
        lambda w: pb.SetFlowRunStateRequest(flow_run_id=UNKNOWN, state=state(RUNNING)),
        NOT_FOUND,
        UNKNOWN,
    ),
    (
        "watch-unknown",
        "WatchFlowRun",
        lambda w: pb.WatchFlowRunRequest(flow_run_id=UNKNOWN),
        NOT_FOUND,
        UNKNOWN,
    ),
    ("read-logs-unknown", "ReadLogs", lambda w: pb.ReadLogsRequest(flow_run_id=UNKNOWN), NOT_FOUND, UNKNOWN),
    (
        "write-logs-one-unknown",
        "WriteLogs",
        lambda w: pb.WriteLogsRequest(logs=[_log(w.flow), _log(UNKNOWN)]),
        NOT_FOUND,
        UNKNOWN,
    ),
    # -- states ---------------------------------------------------------------------------
    (
        "propose-missing-state",
        "ProposeState",
        lambda w: pb.ProposeStateRequest(run_kind=FLOW, run_id=w.flow),
        INVALID,
        "state",
    ),
    (
        "propose-unspecified-type",
        "ProposeState",
        lambda w: pb.ProposeStateRequest(run_kind=FLOW, run_id=w.flow, state=_type(0)),
        INVALID,
        "state.type",
    ),
    (
        "propose-unknown-type",
        "ProposeState",
        lambda w: pb.ProposeStateRequest(run_kind=FLOW, run_id=w.flow, state=_type(42)),
        INVALID,
        "state.type",
    ),
    (
        "propose-unknown-result-kind",
        "ProposeState",
        lambda w: pb.ProposeStateRequest(run_kind=TASK, run_id=w.task, state=_bad_kind()),
        INVALID,
        "state.data.kind",
    ),
    (
        "set-state-missing-state",
        "SetFlowRunState",
        lambda w: pb.SetFlowRunStateRequest(flow_run_id=w.flow, force=True),
        INVALID,
        "state",
    ),
    (
        "create-flow-unspecified-initial-state",
        "CreateFlowRun",
        lambda w: pb.CreateFlowRunRequest(flow_name="f", state=_type(0)),
        INVALID,
        "state.type",
    ),
    (
        "create-task-unknown-next-state",
        "CreateTaskRun",
        lambda w: pb.CreateTaskRunRequest(flow_run_id=w.flow, task_key="t2", next_state=_type(42)),
        INVALID,
        "next_state.type",
    ),
    # -- run kind and ids -----------------------------------------------------------------
    (
        "propose-missing-run-kind",
        "ProposeState",
        lambda w: pb.ProposeStateRequest(run_id=w.flow, state=state(RUNNING)),
        INVALID,
        "run_kind",
    ),
    (
        "propose-unknown-run-kind",
        "ProposeState",
        lambda w: pb.ProposeStateRequest(run_kind=7, run_id=w.flow, state=state(RUNNING)),
        INVALID,
        "run_kind",
    ),
    (
        "read-states-missing-run-kind",
        "ReadStates",
        lambda w: pb.ReadStatesRequest(run_id=w.flow),
        INVALID,
        "run_kind",
    ),
    (
        "propose-missing-run-id",
        "ProposeState",
        lambda w: pb.ProposeStateRequest(run_kind=FLOW, state=state(RUNNING)),
        INVALID,
        "run_id",
    ),
    (
        "propose-malformed-run-id",
        "ProposeState",
        lambda w: pb.ProposeStateRequest(run_kind=FLOW, run_id="flow-1", state=state(RUNNING)),
        INVALID,
        "run_id",
    ),
    (
        "read-flow-malformed-id",
        "ReadFlowRun",
        lambda w: pb.ReadFlowRunRequest(flow_run_id="xyz"),
        INVALID,
        "flow_run_id",
    ),
    (
        "read-task-malformed-id",
        "ReadTaskRun",
        lambda w: pb.ReadTaskRunRequest(task_run_id="xyz"),
        INVALID,
        "task_run_id",
    ),
    (
        "create-task-malformed-flow-id",
        "CreateTaskRun",
        lambda w: pb.CreateTaskRunRequest(flow_run_id="nope", task_key="t2"),
        INVALID,
        "flow_run_id",
    ),
    (
        "create-flow-malformed-parent",
        "CreateFlowRun",
        lambda w: pb.CreateFlowRunRequest(flow_name="f", parent_task_run_id="nope"),
        INVALID,
        "parent_task_run_id",
    ),
    (
        "list-flows-malformed-parent",
        "ListFlowRuns",
        lambda w: pb.ListFlowRunsRequest(parent_task_run_id="nope"),
        INVALID,
        "parent_task_run_id",
    ),
    (
        "watch-malformed-id",
        "WatchFlowRun",
        lambda w: pb.WatchFlowRunRequest(flow_run_id="nope"),
        INVALID,
        "flow_run_id",
    ),
    (
        "write-logs-malformed-id",
        "WriteLogs",
        lambda w: pb.WriteLogsRequest(logs=[_log(w.flow), _log("nope")]),
        INVALID,
        "logs[1].flow_run_id",
    ),
    # -- required names -------------------------------------------------------------------
    (
        "create-flow-missing-flow-name",
        "CreateFlowRun",
        lambda w: pb.CreateFlowRunRequest(),
        INVALID,
        "flow_name",
    ),
    (
        "create-task-missing-task-key",
        "CreateTaskRun",
        lambda w: pb.CreateTaskRunRequest(flow_run_id=w.flow, next_state=state(RUNNING)),
        INVALID,
        "task_key",
    ),
    (
        "create-limit-missing-tag",
        "CreateConcurrencyLimit",
        lambda w: pb.CreateConcurrencyLimitRequest(concurrency_limit=1),
        INVALID,
        "tag",
    ),
    # -- negative numbers -----------------------------------------------------------------
    (
        "list-flows-negative-page-size",
        "ListFlowRuns",
        lambda w: pb.ListFlowRunsRequest(page_size=-1),
        INVALID,
        "page_size",
    ),
    (
        "list-tasks-negative-page-size",
        "ListTaskRuns",
        lambda w: pb.ListTaskRunsRequest(page_size=-5),
        INVALID,
        "page_size",
    ),
    (
        "read-logs-negative-page-size",
        "ReadLogs",
        lambda w: pb.ReadLogsRequest(flow_run_id=w.flow, page_size=-1),
        INVALID,
        "page_size",
    ),
    (
        "negative-concurrency-limit",
        "CreateConcurrencyLimit",
        lambda w: pb.CreateConcurrencyLimitRequest(tag="db", concurrency_limit=-1),
        INVALID,
        "concurrency_limit",
    ),
    (
        "negative-task-retries",
        "CreateTaskRun",
        lambda w: pb.CreateTaskRunRequest(
            flow_run_id=w.flow, task_key="t2", empirical_policy=pb.TaskRunPolicy(retries=-1)
        ),
        INVALID,
        "retries",
    ),
    (
        "negative-task-retry-delay",
        "CreateTaskRun",
        lambda w: pb.CreateTaskRunRequest(
            flow_run_id=w.flow,
            task_key="t2",
            empirical_policy=pb.TaskRunPolicy(retries=1, retry_delay_seconds=[1, -2]),
        ),
        INVALID,
        "retry_delay_seconds",
    ),
    (
        "negative-flow-retries",
        "CreateFlowRun",
        lambda w: pb.CreateFlowRunRequest(flow_name="f", empirical_policy=pb.FlowRunPolicy(retries=-3)),
        INVALID,
        "retries",
    ),
    # -- page tokens ----------------------------------------------------------------------
    (
        "list-flows-bad-token",
        "ListFlowRuns",
        lambda w: pb.ListFlowRunsRequest(page_token="not-a-token"),
        INVALID,
        "page_token",
    ),
    (
        "list-tasks-bad-token",
        "ListTaskRuns",
        lambda w: pb.ListTaskRunsRequest(page_token="c2VxOnh5eg=="),
        INVALID,
        "page_token",
    ),
    (
        "read-logs-bad-token",
        "ReadLogs",
        lambda w: pb.ReadLogsRequest(flow_run_id=w.flow, page_token="%%%"),
        INVALID,
        "page_token",
    ),
    (
        "list-flows-unknown-state-type",
        "ListFlowRuns",
        lambda w: pb.ListFlowRunsRequest(state_types=[42]),
        INVALID,
        "state_types",
    ),
    # -- JSON -----------------------------------------------------------------------------
    (
        "parameters-json-unparseable",
        "CreateFlowRun",
        lambda w: pb.CreateFlowRunRequest(flow_name="f", parameters_json="{not json"),
        INVALID,
        "parameters_json",
    ),
    (
        "parameters-json-not-an-object",
        "CreateFlowRun",
        lambda w: pb.CreateFlowRunRequest(flow_name="f", parameters_json="[1, 2]"),
        INVALID,
        "parameters_json",
    ),
    (
        "run-input-json-unparseable",
        "ResumeFlowRun",
        lambda w: pb.ResumeFlowRunRequest(flow_run_id=w.flow, run_input_json="{bad"),
        INVALID,
        "run_input_json",
    ),
    (
        "run-input-json-not-an-object",
        "ResumeFlowRun",
        lambda w: pb.ResumeFlowRunRequest(flow_run_id=w.flow, run_input_json="[1, 2]"),
        INVALID,
        "run_input_json",
    ),
    (
        "task-input-type-unknown",
        "CreateTaskRun",
        lambda w: pb.CreateTaskRunRequest(
            flow_run_id=w.flow,
            task_key="t2",
            task_inputs={"x": pb.TaskInputList(inputs=[pb.TaskInput(input_type="bogus", id="1")])},
        ),
        INVALID,
        "input_type",
    ),
]
