"""Protobuf <-> core records. The only place that knows both shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb

from ..app.errors import InvalidArgument
from ..core.models import (
    ConcurrencyLimit,
    Decision,
    Deployment,
    ExceptionInfo,
    FlowRun,
    FlowRunPolicy,
    ResultKind,
    ResultRef,
    Schedule,
    State,
    StateDetails,
    StateType,
    Status,
    TaskInput,
    TaskRun,
    TaskRunPolicy,
    now_utc,
)
from . import checks

_TYPE_TO_PB = {t: spb.StateType.Value(f"STATE_TYPE_{t.value}") for t in StateType}
_TYPE_FROM_PB: dict[int, StateType] = {v: k for k, v in _TYPE_TO_PB.items()}
_KIND_TO_PB = {
    ResultKind.NONE: spb.RESULT_KIND_UNSPECIFIED,
    ResultKind.UNPERSISTED: spb.RESULT_KIND_UNPERSISTED,
    ResultKind.PERSISTED: spb.RESULT_KIND_PERSISTED,
    ResultKind.LITERAL: spb.RESULT_KIND_LITERAL,
}
_KIND_FROM_PB: dict[int, ResultKind] = {v: k for k, v in _KIND_TO_PB.items()}
_STATUS_TO_PB = {
    Status.ACCEPT: pb.PROPOSAL_STATUS_ACCEPT,
    Status.REJECT: pb.PROPOSAL_STATUS_REJECT,
    Status.WAIT: pb.PROPOSAL_STATUS_WAIT,
    Status.ABORT: pb.PROPOSAL_STATUS_ABORT,
}


# -- time ---------------------------------------------------------------------------------
def ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    out = Timestamp()
    out.FromDatetime(value)
    return out


def dt(value: Timestamp, field: str) -> datetime:
    return checks.timestamp(value, field)


def optional_dt(value: Timestamp, present: bool, field: str) -> datetime | None:
    return checks.timestamp(value, field) if present else None


# -- ids and enums ------------------------------------------------------------------------
def run_id(value: str, field: str) -> str:
    """A run id from a request: required, and a UUID."""
    if not value:
        raise InvalidArgument(f"{field} is required")
    try:
        uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(f"{field} {checks.echo(value)} is not a UUID") from None
    return value


def optional_run_id(value: str, field: str) -> str:
    return run_id(value, field) if value else ""


def state_type(value: int, field: str) -> StateType:
    try:
        return _TYPE_FROM_PB[value]
    except KeyError:
        if value == spb.STATE_TYPE_UNSPECIFIED:
            raise InvalidArgument(f"{field} is required (STATE_TYPE_UNSPECIFIED given)") from None
        raise InvalidArgument(f"{field} has unknown state type {value}") from None


def state_type_to_pb(value: StateType) -> int:
    return _TYPE_TO_PB[value]


# -- states -------------------------------------------------------------------------------
def state_from_pb(msg: spb.State, field: str = "state") -> State:
    if not msg.ByteSize() and not msg.type:
        raise InvalidArgument(f"{field} is required")
    kind = state_type(msg.type, f"{field}.type")
    d = msg.details
    data = msg.data
    if data.kind not in _KIND_FROM_PB:
        raise InvalidArgument(f"{field}.data.kind has unknown value {data.kind}")
    return State(
        # The server names every state it stores, so ids never collide across runs; clients
        # make proposals idempotent with details.transition_id instead.
        id=str(uuid.uuid4()),
        type=kind,
        name=msg.name,
        message=msg.message,
        timestamp=dt(msg.timestamp, f"{field}.timestamp") if msg.HasField("timestamp") else now_utc(),
        data=ResultRef(
            _KIND_FROM_PB[data.kind],
            data.storage_key,
            data.serializer,
            data.json if data.HasField("json") else None,
        ),
        details=StateDetails(
            flow_run_id=d.flow_run_id,
            task_run_id=d.task_run_id,
            child_flow_run_id=d.child_flow_run_id,
            scheduled_time=optional_dt(
                d.scheduled_time, d.HasField("scheduled_time"), f"{field}.details.scheduled_time"
            ),
            cache_key=d.cache_key,
            cache_expiration=optional_dt(
                d.cache_expiration, d.HasField("cache_expiration"), f"{field}.details.cache_expiration"
            ),
            refresh_cache=d.refresh_cache,
            pause_timeout=optional_dt(
                d.pause_timeout, d.HasField("pause_timeout"), f"{field}.details.pause_timeout"
            ),
            pause_reschedule=d.pause_reschedule,
            pause_key=d.pause_key,
            retriable=d.retriable if d.HasField("retriable") else None,
            transition_id=d.transition_id,
            untrackable_result=d.untrackable_result,
        ),
        exception=_exception_from_pb(msg, field),
    )


def _exception_from_pb(msg: spb.State, field: str) -> ExceptionInfo | None:
    if not msg.HasField("exception"):
        return None
    e = msg.exception
    return ExceptionInfo(
        type=checks.text(e.type, f"{field}.exception.type", checks.MAX_EXCEPTION_TYPE),
        message=checks.text(e.message, f"{field}.exception.message", checks.MAX_EXCEPTION_TEXT),
        traceback=checks.text(e.traceback, f"{field}.exception.traceback", checks.MAX_EXCEPTION_TEXT),
    )


def _exception_to_pb(info: ExceptionInfo | None) -> spb.ExceptionInfo | None:
    if info is None:
        return None
    return spb.ExceptionInfo(type=info.type, message=info.message, traceback=info.traceback)


def state_to_pb(state: State) -> spb.State:
    d = state.details
    data = state.data
    return spb.State(
        id=state.id,
        type=_TYPE_TO_PB[state.type],
        name=state.name,
        message=state.message,
        timestamp=ts(state.timestamp),
        data=spb.ResultRef(
            kind=_KIND_TO_PB[data.kind],
            storage_key=data.storage_key,
            serializer=data.serializer,
            json=data.json,
        ),
        details=spb.StateDetails(
            flow_run_id=d.flow_run_id,
            task_run_id=d.task_run_id,
            child_flow_run_id=d.child_flow_run_id,
            scheduled_time=ts(d.scheduled_time),
            cache_key=d.cache_key,
            cache_expiration=ts(d.cache_expiration),
            refresh_cache=d.refresh_cache,
            pause_timeout=ts(d.pause_timeout),
            pause_reschedule=d.pause_reschedule,
            pause_key=d.pause_key,
            retriable=d.retriable,
            transition_id=d.transition_id,
            untrackable_result=d.untrackable_result,
        ),
        exception=_exception_to_pb(state.exception),
    )


def decision_to_pb(decision: Decision, run_count: int) -> pb.ProposeStateResponse:
    return pb.ProposeStateResponse(
        status=_STATUS_TO_PB[decision.status],
        state=state_to_pb(decision.state) if decision.state is not None else None,
        reason=decision.reason,
        delay_seconds=decision.delay_seconds,
        run_count=run_count,
    )


# -- runs ---------------------------------------------------------------------------------
def _estimated_run_time(run: FlowRun | TaskRun) -> float:
    total = run.total_run_time
    if run.state is not None and run.state.type is StateType.RUNNING:
        total += max(0.0, (now_utc() - run.state.timestamp).total_seconds())
    return total


def _run_fields(run: FlowRun | TaskRun) -> dict[str, Any]:
    """What flow runs and task runs both carry: identity, tags, state, counts and times."""
    return {
        "id": run.id,
        "name": run.name,
        "tags": run.tags,
        "state": state_to_pb(run.state) if run.state else None,
        "run_count": run.run_count,
        "start_time": ts(run.start_time),
        "end_time": ts(run.end_time),
        "total_run_time_seconds": run.total_run_time,
        "expected_start_time": ts(run.expected_start_time),
        "created": ts(run.created),
        "estimated_run_time_seconds": _estimated_run_time(run),
    }


def flow_run_to_pb(run: FlowRun) -> pb.FlowRun:
    p = run.empirical_policy
    return pb.FlowRun(
        **_run_fields(run),
        flow_name=run.flow_name,
        flow_version=run.flow_version,
        parameters_json=run.parameters_json,
        parent_task_run_id=run.parent_task_run_id,
        deployment_id=run.deployment_id,
        next_scheduled_start_time=ts(run.next_scheduled_start_time),
        empirical_policy=pb.FlowRunPolicy(
            retries=p.retries,
            retry_delay_seconds=p.retry_delay_seconds,
            pause_keys=sorted(p.pause_keys),
            resuming=p.resuming,
        ),
        idempotency_key=run.idempotency_key,
        entrypoint=run.entrypoint,
        worker_id=run.worker_id,
        lease_expiration=ts(run.lease_expiration),
        run_input_json=run.run_input_json,
        lease_epoch=run.lease_epoch,
    )


def listed(run: Any) -> Any:
    """A flow or task run as a list page shows it: what it raised without the traceback, which
    would make a page of failures thousands of times the size; a read of the run has it."""
    if run.state.HasField("exception"):
        run.state.exception.ClearField("traceback")
    return run


def task_run_to_pb(run: TaskRun) -> pb.TaskRun:
    p = run.empirical_policy
    return pb.TaskRun(
        **_run_fields(run),
        flow_run_id=run.flow_run_id,
        task_key=run.task_key,
        dynamic_key=run.dynamic_key,
        task_version=run.task_version,
        task_inputs={
            k: pb.TaskInputList(inputs=[pb.TaskInput(input_type=i.input_type, id=i.id) for i in v])
            for k, v in run.task_inputs.items()
        },
        empirical_policy=pb.TaskRunPolicy(
            retries=p.retries,
            retry_delay_seconds=p.retry_delay_seconds,
            retry_jitter_factor=p.retry_jitter_factor,
        ),
        flow_run_run_count=run.flow_run_run_count,
    )


def _nonneg(value: int, field: str) -> None:
    if value < 0:
        raise InvalidArgument(f"{field} must not be negative (got {value})")


def flow_run_policy_from_pb(msg: pb.FlowRunPolicy) -> FlowRunPolicy:
    _nonneg(msg.retries, "empirical_policy.retries")
    checks.seconds(msg.retry_delay_seconds, "empirical_policy.retry_delay_seconds")
    return FlowRunPolicy(retries=msg.retries, retry_delay_seconds=msg.retry_delay_seconds)


def task_run_policy_from_pb(msg: pb.TaskRunPolicy) -> TaskRunPolicy:
    _nonneg(msg.retries, "empirical_policy.retries")
    if len(msg.retry_delay_seconds) > 1000:
        raise InvalidArgument("empirical_policy.retry_delay_seconds has more than 1000 delays")
    for i, delay in enumerate(msg.retry_delay_seconds):
        checks.seconds(delay, f"empirical_policy.retry_delay_seconds[{i}]")
    jitter = msg.retry_jitter_factor if msg.HasField("retry_jitter_factor") else None
    if jitter is not None:
        checks.factor(jitter, "empirical_policy.retry_jitter_factor")
    return TaskRunPolicy(
        retries=msg.retries,
        retry_delay_seconds=list(msg.retry_delay_seconds),
        retry_jitter_factor=jitter,
    )


def task_inputs_from_pb(inputs) -> dict[str, list[TaskInput]]:
    out: dict[str, list[TaskInput]] = {}
    for name, lst in inputs.items():
        items = []
        for i in lst.inputs:
            if i.input_type not in ("task_run", "parameter", "constant"):
                raise InvalidArgument(
                    f"task_inputs[{checks.echo(name)}].input_type must be task_run, parameter or constant "
                    f"(got {i.input_type!r})"
                )
            items.append(TaskInput(i.input_type, i.id))
        out[name] = items
    return out


def limit_to_pb(limit: ConcurrencyLimit) -> pb.ConcurrencyLimit:
    return pb.ConcurrencyLimit(
        id=limit.id,
        tag=limit.tag,
        concurrency_limit=limit.concurrency_limit,
        active_slots=sorted(limit.active_slots),
        created=ts(limit.created),
    )


def deployment_to_pb(dep: Deployment) -> pb.Deployment:
    return pb.Deployment(
        id=dep.id,
        name=dep.name,
        flow_name=dep.flow_name,
        entrypoint=dep.entrypoint,
        parameters_json=dep.parameters_json,
        tags=dep.tags,
        schedule=pb.Schedule(interval_seconds=dep.schedule.interval_seconds, cron=dep.schedule.cron),
        description=dep.description,
        created=ts(dep.created),
    )


def deployment_from_pb(msg: pb.CreateDeploymentRequest) -> Deployment:
    return Deployment(
        name=msg.name,
        flow_name=msg.flow_name,
        entrypoint=msg.entrypoint,
        parameters_json=msg.parameters_json or "{}",
        tags=checks.tags(msg.tags, "tags"),
        schedule=Schedule(
            checks.seconds(msg.schedule.interval_seconds, "schedule.interval_seconds"), msg.schedule.cron
        ),
        description=msg.description,
    )
