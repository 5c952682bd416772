"""The orchestrator's application layer: create runs, decide proposals, commit, notify.

Plain Python in and out; `servicer.py` adapts it to protobuf. Every decision is made
synchronously on the event loop thread (so proposals on one run never interleave), queued to
the store, and answered once the store says it is durable.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, replace

from .core.context import Effects, PolicySettings
from .core.models import (
    ConcurrencyLimit,
    Decision,
    FlowRun,
    Proposal,
    State,
    StateDetails,
    StateType,
    Status,
    TaskRun,
    now_utc,
)
from .core.policy import propose_flow_state, propose_task_state
from .errors import InvalidArgument, NotFound, Unavailable
from .descendants import live_descendants
from .registry import Registry
from .store.base import FlowRunFilter, Page, Store, WriteBatch
from .store.sqlite import PageTokenError, StoreError
from .watch import LogEvent, StateEvent, WatchHub

log = logging.getLogger("cadenza.orchestrator")

PAUSE_EXPIRED_MESSAGE = "The flow was paused and never resumed."

# A flow run ending in one of these ends its unfinished task runs and subflows the same way.
_DESCENDANTS_END = {
    StateType.CANCELLED: "The parent flow run was cancelled.",
    StateType.CRASHED: "The parent flow run crashed.",
}


@dataclass(slots=True)
class Answer:
    """A decision plus what the caller needs to carry on without reading the run back."""

    decision: Decision
    run_count: int


def _ends_lease(state: State) -> bool:
    """States in which no executor process is working on the run any more."""
    return (
        state.is_final()
        or state.type is StateType.SCHEDULED
        or (state.type is StateType.PAUSED and state.details.pause_reschedule)
    )


class OrchestratorService:
    def __init__(self, store: Store, settings: PolicySettings | None = None) -> None:
        self.store = store
        self.registry = Registry(store, settings or PolicySettings())
        self.hub = WatchHub()
        self._recent_answers: dict[str, Answer] = {}
        self._answers_forgotten = False
        # Set whenever a flow run becomes SCHEDULED, to wake workers long-polling for runs.
        self.runs_scheduled = asyncio.Event()
        self._cleanups: set[asyncio.Task] = set()
        self.registry.load()

    # -- commit -----------------------------------------------------------------------------
    async def _commit(self, batch: WriteBatch, events: list[tuple[str, object]]) -> None:
        run_ids = list(batch.flow_runs) + list(batch.task_runs)
        self.registry.begin_commit(run_ids)
        try:
            await self.store.commit(batch)
        except StoreError as exc:
            for run_id in run_ids:
                self.registry.forget(run_id)
            # Answers that never became durable must not be handed to a retry of the proposal.
            for transition_id in batch.answered_transitions:
                self._recent_answers.pop(transition_id, None)
            raise Unavailable(f"the store could not record the change; retry: {exc}") from exc
        finally:
            self.registry.end_commit(run_ids)
        for flow_run_id, event in events:
            self.hub.publish(flow_run_id, event)
            if isinstance(event, StateEvent) and event.run_kind == "flow":
                self._after_flow_state(event)

    def _after_flow_state(self, event: StateEvent) -> None:
        if event.state.type is StateType.SCHEDULED:
            self.runs_scheduled.set()
        elif event.state.type in _DESCENDANTS_END:
            task = asyncio.get_running_loop().create_task(self.end_descendants(event.run_id, event.state.type))
            self._cleanups.add(task)
            task.add_done_callback(self._cleanups.discard)

    async def end_descendants(self, flow_run_id: str, final_type: StateType) -> None:
        """CancellationCleanup, and its twin for crashes: the unfinished task runs and subflows
        of a cancelled (crashed) flow run end Cancelled (Crashed) too, whoever ended the run,
        so none is left Running and their concurrency slots are released."""
        await self.store.flush()
        tasks, flows = live_descendants(self, flow_run_id)
        message = _DESCENDANTS_END[final_type]
        for kind, runs in (("flow", flows), ("task", tasks)):
            for run in runs:
                # Only over the state seen here: a run that moved on meanwhile is left alone.
                ended = Proposal(State(final_type, message=message), force=True, expected_state_id=run.state.id)
                await self.propose(kind, run.id, ended)

    # -- reads --------------------------------------------------------------------------------
    def read_flow_run(self, flow_run_id: str) -> FlowRun:
        run = self.registry.read_flow_run(flow_run_id)
        if run is None:
            raise NotFound(f"flow run {flow_run_id} not found")
        return run

    def read_task_run(self, task_run_id: str) -> TaskRun:
        run = self.registry.read_task_run(task_run_id)
        if run is None:
            raise NotFound(f"task run {task_run_id} not found")
        return run

    async def list_flow_runs(self, flt: FlowRunFilter, page_size: int, page_token: str) -> Page:
        await self.store.flush()
        page = self._paged(self.store.list_flow_runs, flt, page_size, page_token)
        # In-memory objects are authoritative for runs the orchestrator holds.
        page.items = [self.registry.flow_runs.get(r.id) or r for r in page.items]
        return page

    async def list_task_runs(
        self, flow_run_id: str, state_types: list[str], page_size: int, page_token: str
    ) -> Page:
        await self.store.flush()
        page = self._paged(self.store.list_task_runs, flow_run_id, state_types, page_size, page_token)
        page.items = [self.registry.task_runs.get(r.id) or r for r in page.items]
        return page

    async def read_states(self, run_kind: str, run_id: str) -> list[State]:
        if run_kind == "flow":
            self.read_flow_run(run_id)
        else:
            self.read_task_run(run_id)
        await self.store.flush()
        return self.store.read_states(run_id)

    @staticmethod
    def _paged(fn, *args) -> Page:
        page_size = args[-2]
        if page_size < 0:
            raise InvalidArgument(f"page_size must not be negative (got {page_size})")
        try:
            return fn(*args)
        except PageTokenError as exc:
            raise InvalidArgument(str(exc)) from None

    # -- creation -----------------------------------------------------------------------------
    async def create_flow_run(
        self, run: FlowRun, initial: State | None, next_state: State | None = None
    ) -> tuple[FlowRun, bool, Answer | None]:
        existing = None
        if run.idempotency_key:
            existing = self.store.find_flow_run_by_idempotency_key(run.idempotency_key)
            existing = existing and (self.registry.read_flow_run(existing.id) or existing)
        batch, events = WriteBatch(), []
        if existing is None:
            self._check_parameters(run.parameters_json)
            if run.parent_task_run_id:
                self.read_task_run(run.parent_task_run_id)
            if not run.name:
                run.name = f"{run.flow_name}-{run.id[:8]}"
            self.registry.remember_flow_run(run)
            self.registry.fully_indexed.add(run.id)
            self._decide("flow", run, Proposal(initial or State(StateType.PENDING), force=True), batch, events)
        else:
            run = existing
        answer = None
        if next_state is not None:
            answer = self._propose_in_batch("flow", run, Proposal(next_state), batch, events)
        if batch:
            await self._commit(batch, events)
        return run, existing is None, answer

    async def create_task_run(
        self, run: TaskRun, initial: State | None, next_state: State | None
    ) -> tuple[TaskRun, bool, Answer | None]:
        self.read_flow_run(run.flow_run_id)
        existing = None
        if run.idempotency_key:
            existing = self.store.find_task_run_by_idempotency_key(run.idempotency_key)
            existing = existing and self.registry.read_task_run(existing.id)
        if existing is None:
            existing = self.registry.find_task_run(run.flow_run_id, run.task_key, run.dynamic_key)
        batch, events = WriteBatch(), []
        created = existing is None
        if created:
            if not run.name:
                run.name = f"{run.task_key}-{run.dynamic_key}"
            self.registry.remember_task_run(run)
            self._decide("task", run, Proposal(initial or State(StateType.PENDING), force=True), batch, events)
        else:
            run = existing
        answer = None
        if next_state is not None:
            answer = self._propose_in_batch("task", run, Proposal(next_state), batch, events)
        if batch:
            await self._commit(batch, events)
        return run, created, answer

    @staticmethod
    def _check_parameters(text: str) -> None:
        try:
            value = json.loads(text or "{}")
        except ValueError as exc:
            raise InvalidArgument(f"parameters_json is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise InvalidArgument("parameters_json must be a JSON object")

    # -- proposals ----------------------------------------------------------------------------
    async def propose(self, run_kind: str, run_id: str, proposal: Proposal) -> Answer:
        run = self.read_flow_run(run_id) if run_kind == "flow" else self.read_task_run(run_id)
        batch, events = WriteBatch(), []
        answer = self._propose_in_batch(run_kind, run, proposal, batch, events)
        if batch:
            await self._commit(batch, events)
        return answer

    def _propose_in_batch(self, run_kind, run, proposal: Proposal, batch, events) -> Answer:
        tid = proposal.state.details.transition_id
        if tid:
            seen = self._recent_answers.get(tid)
            if seen is None and (run.loaded_from_store or self._answers_forgotten):
                # Answered before a restart (or long ago): the stored states remember it.
                seen = self._replay_from_history(run, proposal, tid)
            if seen is not None:
                return seen  # a repeated proposal changes nothing
        decision = self._decide(run_kind, run, proposal, batch, events)
        answer = Answer(decision, run.run_count)
        if tid and decision.status is not Status.WAIT:
            # WAIT changed nothing and must be re-evaluated when proposed again.
            batch.answered_transitions.append(tid)
            self._recent_answers[tid] = answer
            if len(self._recent_answers) > 50000:
                for old in list(self._recent_answers)[:25000]:
                    del self._recent_answers[old]
                self._answers_forgotten = True
        return answer

    def _replay_from_history(self, run, proposal: Proposal, tid: str) -> Answer | None:
        """The answer a proposal got, rebuilt from the state it produced: every stored state
        carries the transition id of the proposal it answered."""
        if run.state is not None and run.state.details.transition_id == tid:
            produced = run.state
        else:
            produced = next((s for s in self.store.read_states(run.id) if s.details.transition_id == tid), None)
        if produced is None:
            return None
        accepted = produced.type is proposal.state.type and produced.name == proposal.state.name
        return Answer(Decision(Status.ACCEPT if accepted else Status.REJECT, produced), run.run_count)

    def _decide(self, run_kind: str, run, proposal: Proposal, batch: WriteBatch, events) -> Decision:
        """Decide one proposal and add its writes to the batch (nothing is awaited here)."""
        if run_kind == "flow":
            if run.parent_task_run_id:
                proposal.state.details.task_run_id = run.parent_task_run_id
            decision, effects = propose_flow_state(run, proposal, self.registry)
        else:
            decision, effects = propose_task_state(run, proposal, self.registry)
        self._record_effects(effects, batch)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "decision run_kind=%s run_id=%s proposed=%s/%s force=%s status=%s state=%s reason=%r",
                run_kind, run.id, proposal.state.type.value, proposal.state.name, proposal.force,
                decision.status.value, decision.state.name if decision.state else None, decision.reason,
            )
        if not decision.changed:
            return decision
        state = run.state
        if not state.details.transition_id:
            # A replacement state (AwaitingRetry, Cached ...) remembers the proposal it answered,
            # so a repeat of that proposal after a restart gets the same answer.
            state.details.transition_id = proposal.state.details.transition_id
        if run_kind == "flow":
            if run.lease_expiration is not None and _ends_lease(state):
                run.lease_expiration = None
                if state.type is StateType.SCHEDULED:
                    run.worker_id = ""  # claimable again
            batch.put_flow_run(run)
            batch.add_state("flow", run.id, state)
            events.append((run.id, StateEvent("flow", run.id, run.name, run.id, state)))
            if run.parent_task_run_id:
                self._mirror_to_tracking_task(run, state, batch, events)
        else:
            batch.put_task_run(run)
            batch.add_state("task", run.id, state)
            events.append((run.flow_run_id, StateEvent("task", run.id, run.name, run.flow_run_id, state)))
        return decision

    def _record_effects(self, effects: Effects, batch: WriteBatch) -> None:
        for entry in effects.cache_inserts:
            batch.add_cache_entry(entry)
            self.registry.remember_cache_entry(entry)
        for tag in effects.touched_limits:
            limit = self.registry.limits.get(tag)
            if limit is not None:
                batch.put_limit(limit)

    def _mirror_to_tracking_task(self, child: FlowRun, state: State, batch, events) -> None:
        """A subflow's every state is copied, forced, onto its parent's tracking task run."""
        tracker = self.registry.read_task_run(child.parent_task_run_id)
        if tracker is None:
            log.warning("tracking task run %s of subflow %s is gone", child.parent_task_run_id, child.id)
            return
        copy = state.fresh_copy()  # fresh_copy sets details itself: replace them after
        copy.details = replace(
            state.details,
            child_flow_run_id=child.id,
            flow_run_id=tracker.flow_run_id,
            task_run_id=tracker.id,
            transition_id="",
        )
        self._decide("task", tracker, Proposal(copy, force=True), batch, events)

    async def update_flow_run(self, flow_run_id: str, flow_version: str, policy) -> FlowRun:
        run = self.read_flow_run(flow_run_id)
        if flow_version:
            run.flow_version = flow_version
        if policy is not None and run.empirical_policy.retries == 0 and policy.retries:
            run.empirical_policy.retries = policy.retries
            run.empirical_policy.retry_delay_seconds = policy.retry_delay_seconds
        batch = WriteBatch()
        batch.put_flow_run(run)
        await self._commit(batch, [])
        return run

    # -- resume and external state changes ----------------------------------------------------
    async def resume_flow_run(self, flow_run_id: str, run_input_json: str = "") -> Answer:
        run = self.read_flow_run(flow_run_id)
        if run.state is None or run.state.type is not StateType.PAUSED:
            current = run.state.type.value if run.state else "no state"
            return Answer(
                Decision(Status.ABORT, run.state, f"Cannot resume a flow run that is not paused (it is {current})", nullified=True),
                run.run_count,
            )
        if run.state.details.pause_reschedule:
            target = State(StateType.SCHEDULED, name="Resuming", details=StateDetails(scheduled_time=now_utc()))
        else:
            target = State(StateType.RUNNING)
        batch, events = WriteBatch(), []
        answer = self._propose_in_batch("flow", run, Proposal(target), batch, events)
        if answer.decision.changed:
            # What the paused flow receives when it resumes: this resume's input, or nothing.
            run.run_input_json = run_input_json
            batch.put_flow_run(run)
        if batch:
            await self._commit(batch, events)
        return answer

    async def fail_expired_pauses(self) -> int:
        """Server loop step: a pause past its timeout fails the run (forced)."""
        now = now_utc()
        count = 0
        for run in self.registry.live_flow_runs():
            st = run.state
            if st.type is StateType.PAUSED and st.details.pause_timeout and st.details.pause_timeout < now:
                await self.propose("flow", run.id, Proposal(State(StateType.FAILED, message=PAUSE_EXPIRED_MESSAGE), force=True))
                count += 1
        return count

    # -- concurrency limits ---------------------------------------------------------------
    async def create_concurrency_limit(self, tag: str, limit_value: int) -> ConcurrencyLimit:
        if not tag:
            raise InvalidArgument("tag is required")
        if limit_value < 0:
            raise InvalidArgument(f"concurrency_limit must not be negative (got {limit_value})")
        limit = self.registry.limits.get(tag)
        if limit is None:
            limit = ConcurrencyLimit(tag=tag, concurrency_limit=limit_value)
        batch = WriteBatch()
        batch.put_limit(replace(limit, concurrency_limit=limit_value))
        await self._commit(batch, [])
        limit.concurrency_limit = limit_value
        self.registry.limits[tag] = limit
        return limit

    def read_concurrency_limit(self, tag: str) -> ConcurrencyLimit:
        if not tag:
            raise InvalidArgument("tag is required")
        limit = self.registry.limits.get(tag)
        if limit is None:
            raise NotFound(f"no concurrency limit for tag {tag!r}")
        return limit

    def list_concurrency_limits(self) -> list[ConcurrencyLimit]:
        return sorted(self.registry.limits.values(), key=lambda l: l.tag)

    async def delete_concurrency_limit(self, tag: str) -> None:
        self.read_concurrency_limit(tag)
        batch = WriteBatch()
        batch.delete_limit(tag)
        await self._commit(batch, [])
        self.registry.limits.pop(tag, None)

    # -- logs -----------------------------------------------------------------------------
    async def write_logs(self, entries: list[dict]) -> None:
        batch, events = WriteBatch(), []
        for entry in entries:
            self.read_flow_run(entry["flow_run_id"])
            batch.add_log(entry["flow_run_id"], entry["task_run_id"], json.dumps(entry))
            events.append((entry["flow_run_id"], LogEvent(entry)))
        if batch:
            await self._commit(batch, events)

    async def read_logs(self, flow_run_id: str, task_run_id: str, page_size: int, page_token: str) -> Page:
        self.read_flow_run(flow_run_id)
        await self.store.flush()
        return self._paged(self.store.read_logs, flow_run_id, task_run_id, page_size, page_token)


__all__ = ["OrchestratorService", "Answer"]
