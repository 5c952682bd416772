"""Resuming a paused flow run, and failing pauses that timed out."""

from __future__ import annotations

from ..core.models import Decision, FlowRun, Proposal, State, StateDetails, StateType, Status, now_utc
from ..core.rules.pausing import PAUSE_EXPIRED_MESSAGE
from .commits import Change, Committer
from .idempotency import Answer
from .proposals import Proposals
from .registry import Registry


class Pauses:
    def __init__(self, registry: Registry, proposals: Proposals, committer: Committer) -> None:
        self.registry = registry
        self.proposals = proposals
        self.committer = committer

    async def resume(self, flow_run_id: str, run_input_json: str = "") -> Answer:
        """Resume a paused run, handing it `run_input_json` (a blocking pause goes back to
        Running; a rescheduling one is Scheduled again for a worker)."""
        return await self.committer.settle(lambda: self._resume_once(flow_run_id, run_input_json))

    async def _resume_once(self, flow_run_id: str, run_input_json: str) -> Answer:
        run = self.registry.require_flow_run(flow_run_id)
        if run.state is None or run.state.type is not StateType.PAUSED:
            current = run.state.type.value if run.state else "no state"
            reason = f"Cannot resume a flow run that is not paused (it is {current})"
            change = Change()
            change.batch.read("flow", run.id, run.version)
            self.committer.confirm(change)  # not paused here, but perhaps in the shared store
            return Answer(Decision(Status.ABORT, run.state, reason, nullified=True), run.run_count)
        if run.state.details.pause_reschedule:
            target = State(
                StateType.SCHEDULED, name="Resuming", details=StateDetails(scheduled_time=now_utc())
            )
        else:
            target = State(StateType.RUNNING)
        change = Change()
        answer = self.proposals.decide_into("flow", run, Proposal(target), change)
        if answer.decision.changed:
            # What the paused flow receives when it resumes: this resume's input, or nothing.
            run.run_input_json = run_input_json
            change.batch.put_flow_run(run)
        if change:
            await self.committer.commit(change)
        else:
            self.committer.confirm(change)
        return answer

    async def fail_expired(self) -> int:
        """A pause past its timeout fails the run (forced)."""
        now = now_utc()
        count = 0
        for run, st in self.registry.live_flow_runs():
            if _expired(st, now):
                count += await self.proposals.force_flow_state(run.id, _failed_if_expired)
        return count


def _expired(state: State | None, now) -> bool:
    return (
        state is not None
        and state.type is StateType.PAUSED
        and state.details.pause_timeout is not None
        and state.details.pause_timeout < now
    )


def _failed_if_expired(run: FlowRun) -> State | None:
    if not _expired(run.state, now_utc()):
        return None  # resumed (or ended) meanwhile
    return State(StateType.FAILED, message=PAUSE_EXPIRED_MESSAGE)
