"""An in-memory OrchestratorPort for engine tests without any server.

Every proposal (the first and next states of a creation included) goes through `rules`, in
order; the first rule that returns an answer decides, and a proposal no rule answers is
ACCEPTed. Every call is recorded in `calls`, and every state the engine asked for, whatever
the answer, in `proposed`.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from executor._port import (
    ACCEPT,
    FlowRunCreated,
    FlowRunSpec,
    OrchestrationResult,
    RunKind,
    TaskRunCreated,
    TaskRunSpec,
)
from executor.exceptions import ObjectNotFound
from executor.objects import ConcurrencyLimit, FlowRun, LogEntry, TaskRun
from executor.states import State, StateType

Rule = Callable[["Proposal"], "OrchestrationResult | None"]


@dataclass
class Proposal:
    kind: RunKind
    run_id: str
    state: State
    force: bool = False
    transition_id: str | None = None


@dataclass
class Call:
    method: str
    args: dict = field(default_factory=dict)


class FakePort:
    def __init__(self) -> None:
        self.lease_epoch = 0
        self.rules: list[Rule] = []
        self.calls: list[Call] = []
        self.proposed: list[Proposal] = []
        self.flow_runs: dict[str, FlowRun] = {}
        self.task_runs: dict[str, TaskRun] = {}
        self.history: dict[str, list[State]] = {}
        self.logs: list[LogEntry] = []
        self.limits: dict[str, ConcurrencyLimit] = {}
        self.closed = False
        self.cancel_requested: set[str] = set()  # runs a heartbeat answers "cancel" for

    def answer(self, rule: Rule) -> Rule:
        """Add a rule (usable as a decorator)."""
        self.rules.append(rule)
        return rule

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def names(self, kind: RunKind | None = None) -> list[tuple[str, str]]:
        """(kind, state name) of every state asked for, in order."""
        return [(p.kind.value, p.state.name) for p in self.proposed if kind is None or p.kind == kind]

    # -- deciding ------------------------------------------------------------------------------
    def _decide(self, proposal: Proposal) -> OrchestrationResult:
        self.proposed.append(proposal)
        for rule in self.rules:
            answer = rule(proposal)
            if answer is not None:
                if answer.status == "REJECT":
                    self._store(proposal.kind, proposal.run_id, answer.state)
                return answer
        state = proposal.state
        details = state.state_details
        if proposal.kind == RunKind.FLOW:
            details.flow_run_id = proposal.run_id
        else:
            details.task_run_id = proposal.run_id
        details.transition_id = proposal.transition_id
        state.id = str(uuid.uuid4())
        state.timestamp = dt.datetime.now(dt.UTC)
        run = self._store(proposal.kind, proposal.run_id, state)
        return OrchestrationResult(ACCEPT, state, run_count=run.run_count)

    def _store(self, kind: RunKind, run_id: str, state: State) -> Any:
        run = (self.flow_runs if kind == RunKind.FLOW else self.task_runs)[run_id]
        if state.type is StateType.RUNNING:
            run.run_count += 1
        run.state = state
        self.history.setdefault(run_id, []).append(state)
        return run

    # -- creating runs and proposing states ---------------------------------------------------
    async def create_task_run(self, spec: TaskRunSpec) -> TaskRunCreated:
        self.calls.append(Call("create_task_run", {"spec": spec}))
        run = TaskRun(
            id=str(uuid.uuid4()),
            name=spec.name,
            flow_run_id=spec.flow_run_id,
            task_key=spec.task_key,
            dynamic_key=spec.dynamic_key,
            tags=list(spec.tags),
        )
        self.task_runs[run.id] = run
        self._decide(Proposal(RunKind.TASK, run.id, spec.state or State(StateType.PENDING), force=True))
        if spec.next_state is None:
            return TaskRunCreated(run.id, True, run.state)
        answer = self._decide(
            Proposal(RunKind.TASK, run.id, spec.next_state, transition_id=spec.transition_id)
        )
        return TaskRunCreated(run.id, True, None, answer)

    async def create_flow_run(self, spec: FlowRunSpec) -> FlowRunCreated:
        self.calls.append(Call("create_flow_run", {"spec": spec}))
        run = FlowRun(
            id=str(uuid.uuid4()),
            name=spec.name,
            flow_name=spec.flow_name,
            parameters=json.loads(spec.parameters_json),
            tags=list(spec.tags),
            parent_task_run_id=spec.parent_task_run_id,
        )
        self.flow_runs[run.id] = run
        self._decide(Proposal(RunKind.FLOW, run.id, spec.state or State(StateType.PENDING), force=True))
        answer = None
        if spec.next_state is not None:
            answer = self._decide(
                Proposal(RunKind.FLOW, run.id, spec.next_state, transition_id=spec.transition_id)
            )
        return FlowRunCreated(run, True, answer)

    async def propose_state(
        self,
        kind: RunKind,
        run_id: str,
        state: State,
        *,
        force: bool = False,
        transition_id: str | None = None,
    ) -> OrchestrationResult:
        self.calls.append(
            Call("propose_state", {"kind": kind, "run_id": run_id, "state": state, "force": force})
        )
        return self._decide(Proposal(kind, run_id, state, force, transition_id))

    # -- reading runs -------------------------------------------------------------------------
    async def read_flow_run(self, flow_run_id: str) -> FlowRun:
        self.calls.append(Call("read_flow_run", {"flow_run_id": flow_run_id}))
        if flow_run_id not in self.flow_runs:
            raise ObjectNotFound(f"Flow run {flow_run_id} not found")
        return self.flow_runs[flow_run_id]

    async def read_flow_runs(self, *, parent_task_run_id: str | None = None, **filters: Any) -> list[FlowRun]:
        self.calls.append(Call("read_flow_runs", {"parent_task_run_id": parent_task_run_id, **filters}))
        return [
            r
            for r in self.flow_runs.values()
            if parent_task_run_id is None or r.parent_task_run_id == parent_task_run_id
        ]

    async def read_task_run(self, task_run_id: str) -> TaskRun:
        self.calls.append(Call("read_task_run", {"task_run_id": task_run_id}))
        if task_run_id not in self.task_runs:
            raise ObjectNotFound(f"Task run {task_run_id} not found")
        return self.task_runs[task_run_id]

    async def read_task_runs(self, *, flow_run_id: str | None = None, **filters: Any) -> list[TaskRun]:
        self.calls.append(Call("read_task_runs", {"flow_run_id": flow_run_id, **filters}))
        return [r for r in self.task_runs.values() if flow_run_id is None or r.flow_run_id == flow_run_id]

    async def read_states(self, kind: RunKind, run_id: str) -> list[State]:
        self.calls.append(Call("read_states", {"kind": kind, "run_id": run_id}))
        return list(self.history.get(run_id, ()))

    async def read_run_input(self, flow_run_id: str) -> Any:
        self.calls.append(Call("read_run_input", {"flow_run_id": flow_run_id}))
        return None

    # -- changing flow runs from outside the proposal loop ------------------------------------
    async def update_flow_run(self, flow_run_id: str, **changes: Any) -> None:
        self.calls.append(Call("update_flow_run", {"flow_run_id": flow_run_id, **changes}))

    async def set_flow_run_state(
        self, flow_run_id: str, state: State, force: bool = False
    ) -> OrchestrationResult:
        self.calls.append(Call("set_flow_run_state", {"flow_run_id": flow_run_id, "state": state}))
        return self._decide(Proposal(RunKind.FLOW, flow_run_id, state.copy(), force))

    async def resume_flow_run(self, flow_run_id: str, run_input: Any = None) -> OrchestrationResult:
        self.calls.append(Call("resume_flow_run", {"flow_run_id": flow_run_id, "run_input": run_input}))
        return self._decide(Proposal(RunKind.FLOW, flow_run_id, State(StateType.RUNNING)))

    async def heartbeat(
        self, holder_id: str, flow_run_ids: list[str], lease_seconds: float
    ) -> tuple[list[str], list[str]]:
        self.calls.append(Call("heartbeat", {"holder_id": holder_id, "flow_run_ids": list(flow_run_ids)}))
        return [r for r in flow_run_ids if r in self.cancel_requested], []

    # -- logs and concurrency limits ----------------------------------------------------------
    async def write_logs(self, entries: list[LogEntry]) -> None:
        self.calls.append(Call("write_logs", {"entries": list(entries)}))
        self.logs.extend(entries)

    async def read_logs(
        self, flow_run_id: str | None = None, task_run_id: str | None = None
    ) -> list[LogEntry]:
        self.calls.append(Call("read_logs", {"flow_run_id": flow_run_id, "task_run_id": task_run_id}))
        return [
            e
            for e in self.logs
            if (flow_run_id is None or e.flow_run_id == flow_run_id)
            and (task_run_id is None or e.task_run_id == task_run_id)
        ]

    async def create_concurrency_limit(self, tag: str, concurrency_limit: int) -> str:
        self.calls.append(
            Call("create_concurrency_limit", {"tag": tag, "concurrency_limit": concurrency_limit})
        )
        limit = self.limits.setdefault(tag, ConcurrencyLimit(str(uuid.uuid4()), tag, concurrency_limit))
        limit.concurrency_limit = concurrency_limit
        return limit.id

    async def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit:
        self.calls.append(Call("read_concurrency_limit", {"tag": tag}))
        if tag not in self.limits:
            raise ObjectNotFound(f"No concurrency limit for tag {tag!r}")
        return self.limits[tag]

    async def read_concurrency_limits(self) -> list[ConcurrencyLimit]:
        self.calls.append(Call("read_concurrency_limits"))
        return list(self.limits.values())

    async def delete_concurrency_limit(self, tag: str) -> None:
        self.calls.append(Call("delete_concurrency_limit", {"tag": tag}))
        self.limits.pop(tag, None)

    async def close(self) -> None:
        self.calls.append(Call("close"))
        self.closed = True
