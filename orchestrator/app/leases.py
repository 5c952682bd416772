"""Leases: workers claiming due runs, heartbeats renewing the claim, and what happens when they
stop (the run is Crashed), plus marking Scheduled runs that are past due as Late.

A claim is the proposal SCHEDULED -> PENDING, decided on the event loop like every other
proposal, so two executors can never claim the same run. The claimant must renew its lease
with heartbeats; a lapsed lease means the executor or its child process died, and the run
is marked Crashed (its task runs too, which releases their concurrency slots).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from ..core.models import FlowRun, Proposal, State, StateDetails, StateType, now_utc
from .commits import Change, Committer
from .errors import InvalidArgument
from .proposals import Proposals
from .registry import Registry
from .watch import StateEvent

log = logging.getLogger("cadenza.orchestrator.leases")

_HELD_TYPES = (StateType.PENDING, StateType.RUNNING, StateType.CANCELLING, StateType.PAUSED)


def _check_lease(lease_seconds: float) -> timedelta:
    if lease_seconds <= 0:
        raise InvalidArgument(f"lease_seconds must be positive (got {lease_seconds})")
    return timedelta(seconds=lease_seconds)


class Leases:
    def __init__(
        self,
        registry: Registry,
        proposals: Proposals,
        committer: Committer,
        late_after_seconds: float = 5.0,
        takeover_grace_seconds: float = 2.0,
    ) -> None:
        self.registry = registry
        self.proposals = proposals
        self.committer = committer
        self.late_after = timedelta(seconds=late_after_seconds)
        # A claimant's process stops by itself once it cannot confirm its lease (executor/
        # engine.py's lease watch); the run is taken away only this long after the lease
        # lapsed, so that nothing of the old claim can still act when its slots are freed.
        self.takeover_grace = timedelta(seconds=takeover_grace_seconds)
        # Set whenever a flow run becomes SCHEDULED, to wake workers long-polling for runs.
        self.runs_scheduled = asyncio.Event()

    def on_flow_state(self, event: StateEvent) -> None:
        """Listener for committed flow states."""
        if event.state.type is StateType.SCHEDULED:
            self.runs_scheduled.set()

    def _due_runs(self) -> list[FlowRun]:
        now = now_utc()
        due = [
            (state.details.scheduled_time or state.timestamp, run)
            for run, state in self.registry.live_flow_runs()
            if state.type is StateType.SCHEDULED
            and run.entrypoint
            and (state.details.scheduled_time or state.timestamp) <= now
            and run.lease_expiration is None  # a process that holds it retries it itself
        ]
        due.sort(key=lambda item: item[0])
        return [run for _, run in due]

    def _claim_now(self, worker_id: str, limit: int, lease: timedelta) -> tuple[list[FlowRun], Change]:
        change, claimed = Change(), []
        for run in self._due_runs()[:limit]:
            answer = self.proposals.decide_into("flow", run, Proposal(State(StateType.PENDING)), change)
            state = answer.decision.state
            if answer.decision.changed and state is not None and state.type is StateType.PENDING:
                run.worker_id = worker_id
                run.lease_expiration = now_utc() + lease
                run.lease_epoch += 1  # a new claim: proposals of any earlier one are fenced out
                change.batch.put_flow_run(run)
                claimed.append(run)
        return claimed, change

    async def claim(
        self, worker_id: str, limit: int, lease_seconds: float, wait_seconds: float
    ) -> list[FlowRun]:
        if not worker_id:
            raise InvalidArgument("worker_id is required")
        if limit < 0:
            raise InvalidArgument(f"limit must not be negative (got {limit})")
        if wait_seconds < 0:
            raise InvalidArgument(f"wait_seconds must not be negative (got {wait_seconds})")
        lease = _check_lease(lease_seconds)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(wait_seconds, 60.0)
        while True:
            self.runs_scheduled.clear()
            claimed = await self.committer.settle(lambda: self._claim_once(worker_id, limit or 1, lease))
            remaining = deadline - loop.time()
            if claimed or remaining <= 0:
                return claimed
            # Wake on a newly scheduled run, or re-check soon for runs that became due.
            try:
                await asyncio.wait_for(self.runs_scheduled.wait(), timeout=min(remaining, 0.25))
            except TimeoutError:
                pass

    async def _claim_once(self, worker_id: str, limit: int, lease: timedelta) -> list[FlowRun]:
        claimed, change = self._claim_now(worker_id, limit, lease)
        if change:
            await self.committer.commit(change)
        return claimed

    async def heartbeat(
        self, worker_id: str, flow_run_ids: list[str], lease_seconds: float
    ) -> tuple[list[str], list[str]]:
        if not worker_id:
            raise InvalidArgument("worker_id is required")
        lease = _check_lease(lease_seconds)
        return await self.committer.settle(lambda: self._heartbeat_once(worker_id, flow_run_ids, lease))

    async def _heartbeat_once(
        self, worker_id: str, flow_run_ids: list[str], lease: timedelta
    ) -> tuple[list[str], list[str]]:
        cancel, lost = [], []
        change = Change()
        for run_id in flow_run_ids:
            run = self.registry.read_flow_run(run_id)
            if run is None or run.worker_id != worker_id or run.state is None or run.state.is_final():
                lost.append(run_id)
                continue
            if run.lease_expiration is not None:
                run.lease_expiration = now_utc() + lease
                change.batch.put_flow_run(run)
            if run.state.type is StateType.CANCELLING:
                cancel.append(run_id)
        if change:
            await self.committer.commit(change)
        return cancel, lost

    async def crash_lapsed_leases(self) -> int:
        taken_after = now_utc() - self.takeover_grace
        await self.committer.settle(lambda: self._release_lapsed_retries(taken_after))
        lapsed = [
            run.id for run, state in self.registry.live_flow_runs() if _held_past(run, state, taken_after)
        ]
        count = 0
        for run_id in lapsed:
            # Its task runs and subflows end the same way (see descendants.py). The epoch moves
            # on first, in the same commit: the old claim's process is fenced out from now.
            count += await self.proposals.force_flow_state(
                run_id, lambda run: _ended_by_lapse(run, taken_after), fence=True
            )
        return count

    async def _release_lapsed_retries(self, now) -> None:
        """A run awaiting a retry whose process stopped is not crashed: it is simply free to be
        claimed again, and the next worker retries it."""
        change = Change()
        for run, state in self.registry.live_flow_runs():
            lapsed = run.lease_expiration is not None and run.lease_expiration < now
            if lapsed and state.type is StateType.SCHEDULED:
                log.warning(
                    "lease of flow run %s lapsed while awaiting a retry: any worker may retry it", run.id
                )
                run.lease_expiration, run.worker_id = None, ""
                run.lease_epoch += 1
                change.batch.put_flow_run(run)
        if change:
            await self.committer.commit(change)

    async def mark_late_runs(self) -> int:
        """MarkLateRuns: a Scheduled run past due by more than the threshold becomes "Late"."""
        now = now_utc()
        count = 0
        for run, st in self.registry.live_flow_runs():
            if self._late(st, now) is not None:
                count += await self.proposals.force_flow_state(
                    run.id, lambda r: self._late(r.state, now_utc())
                )
        return count

    def _late(self, st: State | None, now) -> State | None:
        """The Late state for a Scheduled run past due by more than the threshold, else None."""
        when = st.details.scheduled_time if st is not None else None
        if st is None or st.type is not StateType.SCHEDULED or st.name == "Late" or when is None:
            return None
        if now - when <= self.late_after:
            return None
        return State(StateType.SCHEDULED, name="Late", details=StateDetails(scheduled_time=when))


def _held_past(run: FlowRun, state: State | None, taken_after) -> bool:
    return (
        state is not None
        and run.lease_expiration is not None
        and run.lease_expiration < taken_after
        and state.type in _HELD_TYPES
    )


def _ended_by_lapse(run: FlowRun, taken_after) -> State | None:
    """How a run whose lease lapsed ends (None: renewed or ended meanwhile)."""
    if not _held_past(run, run.state, taken_after):
        return None
    assert run.state is not None
    worker = run.worker_id or "unknown"
    if run.state.type is StateType.CANCELLING:
        final = State(
            StateType.CANCELLED,
            message=f"The process holding the run ({worker}) stopped while it was cancelling.",
        )
    else:
        final = State(
            StateType.CRASHED,
            message=f"Flow run crashed: the process holding it ({worker}) stopped sending heartbeats; "
            "it was killed or lost.",
        )
    log.warning("lease of flow run %s lapsed (worker %s): marking %s", run.id, worker, final.type.value)
    return final
