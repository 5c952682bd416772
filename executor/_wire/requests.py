"""The port's plain requests as protobuf messages (creations and proposals, the hot path)."""

from __future__ import annotations

from cadenza.v1 import orchestrator_pb2 as opb

from executor._port import FlowRunSpec, RunKind, TaskRunSpec
from executor._wire.convert import state_to_pb
from executor.states import State

RUN_KINDS = {RunKind.FLOW: opb.RUN_KIND_FLOW, RunKind.TASK: opb.RUN_KIND_TASK}


def create_task_run(spec: TaskRunSpec) -> opb.CreateTaskRunRequest:
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


def create_flow_run(spec: FlowRunSpec) -> opb.CreateFlowRunRequest:
    req = opb.CreateFlowRunRequest(
        flow_name=spec.flow_name,
        name=spec.name,
        flow_version=spec.flow_version,
        parameters_json=spec.parameters_json,
        tags=spec.tags,
        parent_task_run_id=spec.parent_task_run_id or "",
        idempotency_key=spec.idempotency_key or "",
    )
    req.empirical_policy.retries = spec.retries
    req.empirical_policy.retry_delay_seconds = spec.retry_delay_seconds
    if spec.state is not None:
        req.state.CopyFrom(state_to_pb(spec.state))
    if spec.next_state is not None:
        req.next_state.CopyFrom(state_to_pb(spec.next_state, spec.transition_id))
    return req


def propose_state(
    kind: RunKind, run_id: str, state: State, force: bool, transition_id: str | None
) -> opb.ProposeStateRequest:
    return opb.ProposeStateRequest(
        run_kind=RUN_KINDS[kind], run_id=run_id, state=state_to_pb(state, transition_id), force=force
    )
