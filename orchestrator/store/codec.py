"""Model <-> JSON documents for storage. Times are ISO-8601 UTC strings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from ..core.models import (
    ConcurrencyLimit,
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
    TaskInput,
    TaskRun,
    TaskRunPolicy,
)


def _t(value: datetime | None) -> datetime | None:
    return value  # orjson writes datetimes as RFC 3339 strings itself, faster than isoformat()


def _pt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _pt_required(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _dumps(doc: dict) -> str:
    return orjson.dumps(doc).decode()


def state_to_doc(state: State) -> dict[str, Any]:
    d = state.details
    doc = {
        "id": state.id,
        "type": state.type.value,
        "name": state.name,
        "message": state.message,
        "timestamp": _t(state.timestamp),
        "data": [state.data.kind.value, state.data.storage_key, state.data.serializer, state.data.json],
        "details": {
            "flow_run_id": d.flow_run_id,
            "task_run_id": d.task_run_id,
            "child_flow_run_id": d.child_flow_run_id,
            "scheduled_time": _t(d.scheduled_time),
            "cache_key": d.cache_key,
            "cache_expiration": _t(d.cache_expiration),
            "refresh_cache": d.refresh_cache,
            "pause_timeout": _t(d.pause_timeout),
            "pause_reschedule": d.pause_reschedule,
            "pause_key": d.pause_key,
            "retriable": d.retriable,
            "transition_id": d.transition_id,
            "untrackable_result": d.untrackable_result,
        },
    }
    if state.exception is not None:  # only failures carry one; documents of other states stay as they were
        e = state.exception
        doc["exception"] = [e.type, e.message, e.traceback]
    return doc


def state_from_doc(doc: dict[str, Any]) -> State:
    d = doc["details"]
    kind, key, serializer, js = doc["data"]
    raised = doc.get("exception")
    return State(
        id=doc["id"],
        type=StateType(doc["type"]),
        name=doc["name"],
        message=doc["message"],
        timestamp=_pt_required(doc["timestamp"]),
        data=ResultRef(ResultKind(kind), key, serializer, js),
        details=StateDetails(
            flow_run_id=d["flow_run_id"],
            task_run_id=d["task_run_id"],
            child_flow_run_id=d["child_flow_run_id"],
            scheduled_time=_pt(d["scheduled_time"]),
            cache_key=d["cache_key"],
            cache_expiration=_pt(d["cache_expiration"]),
            refresh_cache=d["refresh_cache"],
            pause_timeout=_pt(d["pause_timeout"]),
            pause_reschedule=d["pause_reschedule"],
            pause_key=d["pause_key"],
            retriable=d["retriable"],
            transition_id=d["transition_id"],
            untrackable_result=d["untrackable_result"],
        ),
        exception=ExceptionInfo(*raised) if raised else None,
    )


def _times(run: FlowRun | TaskRun) -> dict[str, Any]:
    return {
        "state": state_to_doc(run.state) if run.state else None,
        "run_count": run.run_count,
        "start_time": _t(run.start_time),
        "end_time": _t(run.end_time),
        "total_run_time": run.total_run_time,
        "expected_start_time": _t(run.expected_start_time),
        "next_scheduled_start_time": _t(run.next_scheduled_start_time),
        "created": _t(run.created),
    }


def _load_times(run: FlowRun | TaskRun, doc: dict[str, Any]) -> None:
    run.loaded_from_store = True
    run.state = state_from_doc(doc["state"]) if doc["state"] else None
    run.run_count = doc["run_count"]
    run.start_time = _pt(doc["start_time"])
    run.end_time = _pt(doc["end_time"])
    run.total_run_time = doc["total_run_time"]
    run.expected_start_time = _pt(doc["expected_start_time"])
    run.next_scheduled_start_time = _pt(doc["next_scheduled_start_time"])
    run.created = _pt_required(doc["created"])


def flow_run_to_doc(run: FlowRun) -> str:
    p = run.empirical_policy
    doc = {
        "id": run.id,
        "name": run.name,
        "flow_name": run.flow_name,
        "flow_version": run.flow_version,
        "parameters_json": run.parameters_json,
        "tags": run.tags,
        "parent_task_run_id": run.parent_task_run_id,
        "deployment_id": run.deployment_id,
        "idempotency_key": run.idempotency_key,
        "policy": [p.retries, p.retry_delay_seconds, sorted(p.pause_keys), p.resuming],
        "entrypoint": run.entrypoint,
        "worker_id": run.worker_id,
        "lease_expiration": _t(run.lease_expiration),
        "run_input_json": run.run_input_json,
        "lease_epoch": run.lease_epoch,
        **_times(run),
    }
    return _dumps(doc)


def flow_run_from_doc(text: str) -> FlowRun:
    doc = orjson.loads(text)
    retries, delay, keys, resuming = doc["policy"]
    run = FlowRun(
        id=doc["id"],
        name=doc["name"],
        flow_name=doc["flow_name"],
        flow_version=doc["flow_version"],
        parameters_json=doc["parameters_json"],
        tags=doc["tags"],
        parent_task_run_id=doc["parent_task_run_id"],
        deployment_id=doc["deployment_id"],
        idempotency_key=doc["idempotency_key"],
        empirical_policy=FlowRunPolicy(retries, delay, set(keys), resuming),
        entrypoint=doc.get("entrypoint", ""),
        worker_id=doc.get("worker_id", ""),
        lease_expiration=_pt(doc.get("lease_expiration")),
        run_input_json=doc.get("run_input_json", ""),
        lease_epoch=doc.get("lease_epoch", 0),
    )
    _load_times(run, doc)
    return run


def task_run_to_doc(run: TaskRun) -> str:
    p = run.empirical_policy
    doc = {
        "id": run.id,
        "name": run.name,
        "flow_run_id": run.flow_run_id,
        "task_key": run.task_key,
        "dynamic_key": run.dynamic_key,
        "task_version": run.task_version,
        "tags": run.tags,
        "task_inputs": {k: [[i.input_type, i.id] for i in v] for k, v in run.task_inputs.items()},
        "idempotency_key": run.idempotency_key,
        "policy": [p.retries, p.retry_delay_seconds, p.retry_jitter_factor],
        "flow_run_run_count": run.flow_run_run_count,
        **_times(run),
    }
    return _dumps(doc)


def task_run_from_doc(text: str) -> TaskRun:
    doc = orjson.loads(text)
    retries, delays, jitter = doc["policy"]
    run = TaskRun(
        id=doc["id"],
        name=doc["name"],
        flow_run_id=doc["flow_run_id"],
        task_key=doc["task_key"],
        dynamic_key=doc["dynamic_key"],
        task_version=doc["task_version"],
        tags=doc["tags"],
        task_inputs={k: [TaskInput(t, i) for t, i in v] for k, v in doc["task_inputs"].items()},
        idempotency_key=doc["idempotency_key"],
        empirical_policy=TaskRunPolicy(retries, delays, jitter),
        flow_run_run_count=doc["flow_run_run_count"],
    )
    _load_times(run, doc)
    return run


def limit_to_doc(limit: ConcurrencyLimit) -> str:
    return _dumps(
        {
            "id": limit.id,
            "tag": limit.tag,
            "concurrency_limit": limit.concurrency_limit,
            "active_slots": sorted(limit.active_slots),
            "created": _t(limit.created),
        }
    )


def limit_from_doc(text: str) -> ConcurrencyLimit:
    doc = orjson.loads(text)
    return ConcurrencyLimit(
        tag=doc["tag"],
        concurrency_limit=doc["concurrency_limit"],
        active_slots=set(doc["active_slots"]),
        id=doc["id"],
        created=_pt_required(doc["created"]),
    )


def dumps_state(state: State) -> str:
    return _dumps(state_to_doc(state))


def loads_state(text: str) -> State:
    return state_from_doc(orjson.loads(text))


def deployment_to_doc(dep: Deployment) -> str:
    return _dumps(
        {
            "id": dep.id,
            "name": dep.name,
            "flow_name": dep.flow_name,
            "entrypoint": dep.entrypoint,
            "parameters_json": dep.parameters_json,
            "tags": dep.tags,
            "schedule": [dep.schedule.interval_seconds, dep.schedule.cron],
            "description": dep.description,
            "created": _t(dep.created),
        }
    )


def deployment_from_doc(text: str) -> Deployment:
    doc = orjson.loads(text)
    interval, cron = doc["schedule"]
    return Deployment(
        id=doc["id"],
        name=doc["name"],
        flow_name=doc["flow_name"],
        entrypoint=doc["entrypoint"],
        parameters_json=doc["parameters_json"],
        tags=doc["tags"],
        schedule=Schedule(interval, cron),
        description=doc["description"],
        created=_pt_required(doc["created"]),
    )
