"""Protobuf <-> plain Python for the engine's port: states, run records, answers, log lines,
and the port's requests as messages. Nothing outside executor._wire touches protobuf."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable
from typing import Any

from cadenza.v1 import orchestrator_pb2 as opb
from cadenza.v1 import states_pb2 as spb
from executor._exception_info import describe, raised_by
from executor._port import FlowRunSpec, RunKind, TaskRunSpec
from executor.objects import (
    ConcurrencyLimit,
    FlowRun,
    LogEntry,
    OrchestrationResult,
    ProposalStatus,
    TaskInput,
    TaskRun,
)
from executor.results import ResultRef
from executor.states import State, StateDetails, StateType

_UTC = _dt.UTC
_TYPE_TO_PB = {t: spb.StateType.Value(f"STATE_TYPE_{t.value}") for t in StateType}
_PB_TO_TYPE = {v: k for k, v in _TYPE_TO_PB.items()}
_KIND_TO_PB = {
    "": spb.RESULT_KIND_UNSPECIFIED,
    "unpersisted": spb.RESULT_KIND_UNPERSISTED,
    "persisted": spb.RESULT_KIND_PERSISTED,
    "literal": spb.RESULT_KIND_LITERAL,
}
_PB_TO_KIND = {v: k for k, v in _KIND_TO_PB.items()}
_RAISING = frozenset({StateType.FAILED, StateType.CRASHED})  # the states that tell what was raised


def dt_from_pb(ts: Any) -> _dt.datetime | None:
    if not ts.seconds and not ts.nanos:
        return None
    return _dt.datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, _UTC)


def dt_to_pb(value: _dt.datetime, target: Any) -> None:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    seconds = value.timestamp()
    whole = int(seconds // 1)
    target.seconds = whole
    target.nanos = int(round((seconds - whole) * 1e9)) % 1_000_000_000


def state_types_to_pb(types: Iterable[StateType | str] | None) -> list[spb.StateType.ValueType]:
    """A list filter's state types (none: every type)."""
    return [_TYPE_TO_PB[StateType(t)] for t in types or ()]


def state_to_pb(state: State, transition_id: str | None = None) -> spb.State:
    """Build the proposal's protobuf once; the server stamps id and timestamp."""
    msg = spb.State(type=_TYPE_TO_PB[state.type], name=state.name)
    if state.message:
        msg.message = state.message
    ref = state.result_ref
    if ref is not None and ref.kind:
        data = msg.data
        data.kind = _KIND_TO_PB[ref.kind]
        if ref.storage_key:
            data.storage_key = ref.storage_key
        if ref.serializer:
            data.serializer = ref.serializer
        if ref.json is not None:
            data.json = ref.json
    if state.type in _RAISING and state.has_data():
        exc = raised_by(state._data)
        if exc is not None:
            info = describe(exc)
            msg.exception.type = info.type
            msg.exception.message = info.message
            msg.exception.traceback = info.traceback
    d = state.state_details
    pd = msg.details
    if d.flow_run_id:
        pd.flow_run_id = d.flow_run_id
    if d.task_run_id:
        pd.task_run_id = d.task_run_id
    if d.child_flow_run_id:
        pd.child_flow_run_id = d.child_flow_run_id
    if d.scheduled_time is not None:
        dt_to_pb(d.scheduled_time, pd.scheduled_time)
    if d.cache_key:
        pd.cache_key = d.cache_key
    if d.cache_expiration is not None:
        dt_to_pb(d.cache_expiration, pd.cache_expiration)
    if d.refresh_cache:
        pd.refresh_cache = True
    if d.pause_timeout is not None:
        dt_to_pb(d.pause_timeout, pd.pause_timeout)
    if d.pause_reschedule:
        pd.pause_reschedule = True
    if d.pause_key:
        pd.pause_key = d.pause_key
    if d.retriable is not None:
        pd.retriable = d.retriable
    if d.untrackable_result:
        pd.untrackable_result = True
    tid = transition_id or d.transition_id
    if tid:
        pd.transition_id = tid
    return msg


# The flow run id of the last state read: every task state of a flow run names the same one, and
# sharing one str instead of a copy per state saves 85 bytes a task run (100k of them in a flow).
_last_flow_run_id: list[str] = [""]


def _shared_flow_run_id(value: str) -> str | None:
    if not value:
        return None
    last = _last_flow_run_id[0]
    if value == last:
        return last
    _last_flow_run_id[0] = value
    return value


def details_from_pb(pd: Any) -> StateDetails:
    return StateDetails(
        flow_run_id=_shared_flow_run_id(pd.flow_run_id),
        task_run_id=pd.task_run_id or None,
        child_flow_run_id=pd.child_flow_run_id or None,
        scheduled_time=dt_from_pb(pd.scheduled_time) if pd.HasField("scheduled_time") else None,
        cache_key=pd.cache_key or None,
        cache_expiration=dt_from_pb(pd.cache_expiration) if pd.HasField("cache_expiration") else None,
        refresh_cache=pd.refresh_cache,
        pause_timeout=dt_from_pb(pd.pause_timeout) if pd.HasField("pause_timeout") else None,
        pause_reschedule=pd.pause_reschedule,
        pause_key=pd.pause_key or None,
        retriable=pd.retriable if pd.HasField("retriable") else None,
        transition_id=pd.transition_id or None,
        untrackable_result=pd.untrackable_result,
    )


def ref_from_pb(data: Any) -> ResultRef | None:
    if not data.kind:
        return None
    return ResultRef(
        _PB_TO_KIND.get(data.kind, ""),
        data.storage_key,
        data.serializer,
        data.json if data.HasField("json") else None,
    )


def stamp_accepted(state: State, msg: spb.State) -> State:
    """ACCEPT: keep the proposed object (and its in-memory data) but take the stored stamps."""
    state.id = msg.id or None
    state.name = msg.name or state.name
    state.timestamp = dt_from_pb(msg.timestamp)
    state.state_details = details_from_pb(msg.details)
    return state


def state_from_pb(msg: spb.State) -> State:
    return State(
        _PB_TO_TYPE[msg.type] if msg.type else StateType.PENDING,
        name=msg.name or None,
        message=msg.message or None,
        state_details=details_from_pb(msg.details),
        timestamp=dt_from_pb(msg.timestamp),
        id=msg.id or None,
        result_ref=ref_from_pb(msg.data),
    )


def _run_fields(m: opb.FlowRun | opb.TaskRun) -> dict[str, Any]:
    """What flow runs and task runs both carry: identity, tags, state, counts and times."""
    return {
        "id": m.id,
        "name": m.name,
        "tags": list(m.tags),
        "state": state_from_pb(m.state) if m.HasField("state") else None,
        "run_count": m.run_count,
        "start_time": dt_from_pb(m.start_time),
        "end_time": dt_from_pb(m.end_time),
        "total_run_time": m.total_run_time_seconds,
        "expected_start_time": dt_from_pb(m.expected_start_time),
        "created": dt_from_pb(m.created),
        "estimated_run_time": m.estimated_run_time_seconds,
    }


def flow_run_from_pb(m: opb.FlowRun) -> FlowRun:
    pol = m.empirical_policy
    return FlowRun(
        **_run_fields(m),
        flow_name=m.flow_name,
        flow_version=m.flow_version or None,
        parameters=json.loads(m.parameters_json) if m.parameters_json else {},
        parent_task_run_id=m.parent_task_run_id or None,
        deployment_id=m.deployment_id or None,
        next_scheduled_start_time=dt_from_pb(m.next_scheduled_start_time),
        empirical_policy={
            "retries": pol.retries,
            "retry_delay": pol.retry_delay_seconds,
            "pause_keys": list(pol.pause_keys),
            "resuming": pol.resuming,
        },
        idempotency_key=m.idempotency_key or None,
        entrypoint=m.entrypoint or None,
        lease_epoch=m.lease_epoch,
        lease_expiration=dt_from_pb(m.lease_expiration),
    )


def task_run_from_pb(m: opb.TaskRun) -> TaskRun:
    pol = m.empirical_policy
    return TaskRun(
        **_run_fields(m),
        flow_run_id=m.flow_run_id or None,
        task_key=m.task_key,
        dynamic_key=m.dynamic_key,
        task_version=m.task_version or None,
        task_inputs={k: [TaskInput(i.input_type, i.id) for i in v.inputs] for k, v in m.task_inputs.items()},
        empirical_policy={
            "retries": pol.retries,
            "retry_delay": list(pol.retry_delay_seconds),
            "retry_jitter_factor": pol.retry_jitter_factor if pol.HasField("retry_jitter_factor") else None,
        },
        flow_run_run_count=m.flow_run_run_count,
    )


def limit_from_pb(m: opb.ConcurrencyLimit) -> ConcurrencyLimit:
    return ConcurrencyLimit(
        id=m.id,
        tag=m.tag,
        concurrency_limit=m.concurrency_limit,
        active_slots=list(m.active_slots),
        created=dt_from_pb(m.created),
    )


def log_from_pb(m: opb.LogEntry) -> LogEntry:
    return LogEntry(
        m.flow_run_id or None,
        m.task_run_id or None,
        m.logger_name,
        m.level,
        m.message,
        dt_from_pb(m.timestamp),
    )


def log_to_pb(entry: LogEntry) -> opb.LogEntry:
    msg = opb.LogEntry(
        flow_run_id=entry.flow_run_id or "",
        task_run_id=entry.task_run_id or "",
        logger_name=entry.name,
        level=entry.level,
        message=entry.message,
    )
    if entry.timestamp is not None:
        dt_to_pb(entry.timestamp, msg.timestamp)
    return msg


# -- answers -----------------------------------------------------------------------------------
_STATUS = {
    opb.PROPOSAL_STATUS_ACCEPT: ProposalStatus.ACCEPT,
    opb.PROPOSAL_STATUS_REJECT: ProposalStatus.REJECT,
    opb.PROPOSAL_STATUS_WAIT: ProposalStatus.WAIT,
    opb.PROPOSAL_STATUS_ABORT: ProposalStatus.ABORT,
}


def answer_from_pb(resp: opb.ProposeStateResponse) -> OrchestrationResult:
    """An answer whose state is a new object (proposals made from outside the run)."""
    return OrchestrationResult(
        _STATUS.get(resp.status, ProposalStatus.UNSPECIFIED),
        state_from_pb(resp.state) if resp.HasField("state") else None,
        resp.reason,
        resp.delay_seconds,
        resp.run_count,
    )


def answer_to_proposal(resp: opb.ProposeStateResponse, proposed: State) -> OrchestrationResult:
    """The engine's answer: on ACCEPT the proposed object itself, stamped; on WAIT no state (the
    engine proposes again); otherwise the state the orchestrator returned."""
    status = _STATUS.get(resp.status, ProposalStatus.UNSPECIFIED)
    if status is ProposalStatus.ACCEPT:
        state: State | None = stamp_accepted(proposed, resp.state)
    elif status is ProposalStatus.WAIT:
        state = None
    else:
        state = state_from_pb(resp.state)
    return OrchestrationResult(status, state, resp.reason, resp.delay_seconds, resp.run_count)


# -- the port's requests ---------------------------------------------------------------------
RUN_KINDS = {RunKind.FLOW: opb.RUN_KIND_FLOW, RunKind.TASK: opb.RUN_KIND_TASK}


def create_task_run_request(spec: TaskRunSpec) -> opb.CreateTaskRunRequest:
    req = opb.CreateTaskRunRequest(
        flow_run_id=spec.flow_run_id,
        task_key=spec.task_key,
        dynamic_key=spec.dynamic_key,
        name=spec.name,
        task_version=spec.task_version,
        tags=spec.tags,
    )
    policy = req.empirical_policy
    policy.retries = spec.retries
    if spec.retry_delays:
        policy.retry_delay_seconds.extend(spec.retry_delays)
    if spec.retry_jitter_factor is not None:
        policy.retry_jitter_factor = spec.retry_jitter_factor
    inputs = req.task_inputs
    for name, ids in spec.task_inputs.items():
        entry = inputs[name]  # listed even without upstream runs
        for tid in ids:
            entry.inputs.add(input_type="task_run", id=tid)
    if spec.state is not None:
        req.state.CopyFrom(state_to_pb(spec.state))
    if spec.next_state is not None:
        req.next_state.CopyFrom(state_to_pb(spec.next_state, spec.transition_id))
    return req


def create_flow_run_request(spec: FlowRunSpec) -> opb.CreateFlowRunRequest:
    req = opb.CreateFlowRunRequest(
        flow_name=spec.flow_name,
        name=spec.name,
        flow_version=spec.flow_version,
        parameters_json=spec.parameters_json,
        tags=spec.tags,
        parent_task_run_id=spec.parent_task_run_id or "",
        idempotency_key=spec.idempotency_key or "",
        worker_id=spec.holder_id,
        lease_seconds=spec.lease_seconds,
    )
    req.empirical_policy.retries = spec.retries
    req.empirical_policy.retry_delay_seconds = spec.retry_delay_seconds
    if spec.state is not None:
        req.state.CopyFrom(state_to_pb(spec.state))
    if spec.next_state is not None:
        req.next_state.CopyFrom(state_to_pb(spec.next_state, spec.transition_id))
    return req


def propose_state_request(
    kind: RunKind, run_id: str, state: State, force: bool, transition_id: str | None
) -> opb.ProposeStateRequest:
    return opb.ProposeStateRequest(
        run_kind=RUN_KINDS[kind], run_id=run_id, state=state_to_pb(state, transition_id), force=force
    )
