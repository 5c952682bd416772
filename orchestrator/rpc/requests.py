"""Decoding requests into what the application layer takes, and encoding its answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cadenza.v1 import orchestrator_pb2 as pb

from ..app.deployments import check_entrypoint
from ..app.errors import InvalidArgument
from ..app.idempotency import Answer
from ..core.models import FlowRun, Proposal, State, TaskRun
from . import checks, convert

KINDS: dict[int, str] = {pb.RUN_KIND_FLOW: "flow", pb.RUN_KIND_TASK: "task"}
KINDS_PB: dict[str, pb.RunKind.ValueType] = {"flow": pb.RUN_KIND_FLOW, "task": pb.RUN_KIND_TASK}


def run_kind(value: int) -> str:
    try:
        return KINDS[value]
    except KeyError:
        raise InvalidArgument("run_kind is required (RUN_KIND_FLOW or RUN_KIND_TASK)") from None


def state_types(values, field: str) -> list[str]:
    return [convert.state_type(v, field).value for v in values]


def answer_pb(answer: Answer) -> pb.ProposeStateResponse:
    return convert.decision_to_pb(answer.decision, answer.run_count)


def proposal(msg: pb.ProposeStateRequest) -> tuple[str, str, Proposal]:
    kind = run_kind(msg.run_kind)
    run_id = convert.run_id(msg.run_id, "run_id")
    if not msg.HasField("state"):
        raise InvalidArgument("state is required")
    state = convert.state_from_pb(msg.state)
    proposal = Proposal(
        state, force=msg.force, expected_state_id=msg.expected_state_id, lease_epoch=msg.lease_epoch
    )
    return kind, run_id, proposal


def optional_state(msg, field: str) -> State | None:
    return convert.state_from_pb(getattr(msg, field), field) if msg.HasField(field) else None


def new_flow_run(msg: pb.CreateFlowRunRequest) -> tuple[FlowRun, State | None, State | None]:
    if not msg.flow_name:
        raise InvalidArgument("flow_name is required")
    run = FlowRun(
        name=msg.name,
        flow_name=msg.flow_name,
        flow_version=msg.flow_version,
        parameters_json=msg.parameters_json or "{}",
        tags=checks.tags(msg.tags, "tags"),
        parent_task_run_id=convert.optional_run_id(msg.parent_task_run_id, "parent_task_run_id"),
        deployment_id=msg.deployment_id,
        idempotency_key=msg.idempotency_key,
        empirical_policy=convert.flow_run_policy_from_pb(msg.empirical_policy),
        entrypoint=msg.entrypoint,
    )
    if msg.entrypoint:
        check_entrypoint(msg.entrypoint)
    if msg.worker_id:
        # The creating process holds the run from the start, as a worker's claim would.
        lease = checks.seconds(msg.lease_seconds, "lease_seconds", positive=True)
        run.worker_id = msg.worker_id
        run.lease_expiration = datetime.now(UTC) + timedelta(seconds=lease)
    initial = convert.state_from_pb(msg.state) if msg.HasField("state") else None
    return run, initial, optional_state(msg, "next_state")


def new_task_run(msg: pb.CreateTaskRunRequest) -> tuple[TaskRun, State | None, State | None]:
    if not msg.task_key:
        raise InvalidArgument("task_key is required")
    run = TaskRun(
        name=msg.name,
        flow_run_id=convert.run_id(msg.flow_run_id, "flow_run_id"),
        task_key=msg.task_key,
        dynamic_key=msg.dynamic_key,
        task_version=msg.task_version,
        tags=checks.tags(msg.tags, "tags"),
        task_inputs=convert.task_inputs_from_pb(msg.task_inputs),
        idempotency_key=msg.idempotency_key,
        empirical_policy=convert.task_run_policy_from_pb(msg.empirical_policy),
    )
    initial = convert.state_from_pb(msg.state) if msg.HasField("state") else None
    return run, initial, optional_state(msg, "next_state")


def log_entries(request: pb.WriteLogsRequest) -> list[dict]:
    entries = []
    for i, entry in enumerate(request.logs):
        entries.append(
            {
                "flow_run_id": convert.run_id(entry.flow_run_id, f"logs[{i}].flow_run_id"),
                "task_run_id": convert.optional_run_id(entry.task_run_id, f"logs[{i}].task_run_id"),
                "logger_name": entry.logger_name,
                "level": entry.level,
                "message": entry.message,
                "timestamp": convert.dt(entry.timestamp, f"logs[{i}].timestamp").isoformat()
                if entry.HasField("timestamp")
                else None,
            }
        )
    return entries


def log_pb(entry: dict) -> pb.LogEntry:
    stamp = entry.get("timestamp")
    return pb.LogEntry(
        flow_run_id=entry["flow_run_id"],
        task_run_id=entry["task_run_id"],
        logger_name=entry["logger_name"],
        level=entry["level"],
        message=entry["message"],
        timestamp=convert.ts(datetime.fromisoformat(stamp).astimezone(UTC)) if stamp else None,
    )
