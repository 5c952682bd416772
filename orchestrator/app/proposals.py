"""Deciding proposals: gather the inputs, let the core decide, record the decision and its
effects in a change, and answer once the change is committed.

Every decision is made synchronously on the event loop thread, so proposals on one run never
interleave in this process; a repeated proposal (same transition id) gets its first answer
back. Each decision notes the rows it was decided on (the run, its flow run, the limits), so
that with replicas sharing the store it is refused and decided again if one changed meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..core.inputs import Effects, PolicySettings
from ..core.models import Decision, FlowRun, Proposal, State, Status, TaskRun
from ..core.policy import decide
from .commits import Change, Committer
from .idempotency import Answer, AnswerMemory
from .inputs import InputGatherer
from .registry import Registry
from .watch import StateEvent

log = logging.getLogger("cadenza.orchestrator")


class Proposals:
    def __init__(
        self,
        registry: Registry,
        gatherer: InputGatherer,
        answers: AnswerMemory,
        committer: Committer,
        settings: PolicySettings,
    ) -> None:
        self.registry = registry
        self.gatherer = gatherer
        self.answers = answers
        self.committer = committer
        self.settings = settings

    async def propose(self, run_kind: str, run_id: str, proposal: Proposal) -> Answer:
        tries = self.committer.fresh_copies(proposal)  # a try may change the proposed state
        return await self.committer.settle(lambda: self._propose_once(run_kind, run_id, *tries()))

    async def _propose_once(self, run_kind: str, run_id: str, proposal: Proposal) -> Answer:
        if run_kind == "flow":
            run: FlowRun | TaskRun = self.registry.require_flow_run(run_id)
        else:
            run = self.registry.require_task_run(run_id)
        change = Change()
        answer = self.decide_into(run_kind, run, proposal, change)
        if change:
            await self.committer.commit(change)
        else:
            self.committer.confirm(change)  # a REJECT or WAIT must not rest on a stale copy
        return answer

    async def force_flow_state(
        self, run_id: str, final: Callable[[FlowRun], State | None], fence: bool = False
    ) -> bool:
        """Force the state `final(run)` names onto flow run `run_id`, judged on the run as it is
        at each try (None: leave it alone); `fence` moves its claim's epoch on in the same
        commit. Whether a state was forced."""

        async def once() -> bool:
            run = self.registry.read_flow_run(run_id)
            state = final(run) if run is not None else None
            if run is None or state is None:
                return False
            if fence:
                run.lease_epoch += 1  # the old claim's process is fenced out from this commit on
            change = Change()
            self.apply("flow", run, Proposal(state, force=True), change)
            if change:
                await self.committer.commit(change)
            return True

        return await self.committer.settle(once)

    def decide_into(
        self, run_kind: str, run: FlowRun | TaskRun, proposal: Proposal, change: Change
    ) -> Answer:
        """Decide one proposal into `change` (nothing is awaited); a repeat gets its first answer."""
        seen = self.answers.recall(run, proposal)
        if seen is not None:
            return seen  # a repeated proposal changes nothing
        decision = self.apply(run_kind, run, proposal, change)
        answer = Answer(decision, run.run_count)
        tid = proposal.state.details.transition_id
        if tid and decision.status is not Status.WAIT:
            # WAIT changed nothing and must be re-evaluated when proposed again.
            change.batch.answered_transitions.append(tid)
            self.answers.remember(tid, answer, run.id)
        return answer

    def apply(self, run_kind: str, run: FlowRun | TaskRun, proposal: Proposal, change: Change) -> Decision:
        """Decide one proposal into `change`, with no idempotency check (initial states)."""
        inputs = self.gatherer.gather(run_kind, run, proposal)
        reads = change.batch.reads
        reads.append((run_kind, run.id, run.version))
        if inputs.flow_run is not None:
            reads.append(("flow", inputs.flow_run.id, inputs.flow_run.version))
        reads.extend(("limit", limit.tag, limit.version) for limit in inputs.limits)
        decision, effects = decide(run_kind, run, proposal, inputs, self.settings)
        self._record_effects(effects, change)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "decision run_kind=%s run_id=%s proposed=%s/%s force=%s status=%s state=%s reason=%r",
                run_kind,
                run.id,
                proposal.state.type.value,
                proposal.state.name,
                proposal.force,
                decision.status.value,
                decision.state.name if decision.state else None,
                decision.reason,
            )
        if decision.changed:
            self._record_state(run_kind, run, change)
        for follow_up in effects.follow_ups:
            self._apply_follow_up(follow_up.run_kind, follow_up.run_id, follow_up.proposal, change)
        return decision

    def _record_state(self, run_kind: str, run: FlowRun | TaskRun, change: Change) -> None:
        state = run.state
        assert state is not None
        batch = change.batch
        if isinstance(run, FlowRun):
            batch.put_flow_run(run)
            batch.add_state("flow", run.id, state)
            change.events.append((run.id, StateEvent("flow", run.id, run.name, run.id, state)))
        else:
            batch.put_task_run(run)
            batch.add_state("task", run.id, state)
            change.events.append(
                (run.flow_run_id, StateEvent("task", run.id, run.name, run.flow_run_id, state))
            )

    def _record_effects(self, effects: Effects, change: Change) -> None:
        batch = change.batch
        for entry in effects.cache_inserts:
            batch.add_cache_entry(entry)
            self.registry.remember_cache_entry(entry)
        for tag in effects.touched_limits:
            limit = self.registry.limits.get(tag)
            if limit is not None:
                batch.put_limit(limit)

    def _apply_follow_up(self, run_kind: str, run_id: str, proposal: Proposal, change: Change) -> None:
        target: FlowRun | TaskRun | None
        if run_kind == "task":
            target = self.registry.read_task_run(run_id)
        else:
            target = self.registry.read_flow_run(run_id)
        if target is None:
            log.warning("%s run %s is gone; a follow-up decision on it is dropped", run_kind, run_id)
            return
        self.apply(run_kind, target, proposal, change)
