"""Creating, reading and listing flow runs and task runs."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable

from cadenza.documents import DocumentError, parse_json

from ..core.fencing import fenced_out
from ..core.models import FlowRun, FlowRunPolicy, Proposal, State, StateType, TaskRun
from ..store.base import FlowRunFilter, Page, Store
from ..store.errors import PageTokenError
from .commits import Change, Committer
from .errors import FailedPrecondition, InvalidArgument, NotFound
from .idempotency import Answer
from .proposals import Proposals
from .registry import Registry
from .watch import WatchHub, WatchItem, follow


def check_parameters_json(text: str, field: str = "parameters_json") -> None:
    """Parameters travel as a JSON object of name -> value."""
    try:
        parse_json(text or "{}", field, require_object=True)
    except DocumentError as exc:
        raise InvalidArgument(str(exc)) from None


def paged(fn: Callable[..., Page], *args) -> Page:
    """Call a store's paged read; its last two arguments are page_size and page_token."""
    page_size = args[-2]
    if page_size < 0:
        raise InvalidArgument(f"page_size must not be negative (got {page_size})")
    try:
        return fn(*args)
    except PageTokenError as exc:
        raise InvalidArgument(str(exc)) from None


class Runs:
    def __init__(
        self, store: Store, registry: Registry, proposals: Proposals, committer: Committer, hub: WatchHub
    ) -> None:
        self.store = store
        self.registry = registry
        self.proposals = proposals
        self.committer = committer
        self.hub = hub

    # -- reads --------------------------------------------------------------------------------
    def read_flow_run(self, flow_run_id: str) -> FlowRun:
        run = self.registry.current_flow_run(flow_run_id)
        if run is None:
            raise NotFound(f"flow run {flow_run_id} not found")
        return run

    def read_task_run(self, task_run_id: str) -> TaskRun:
        run = self.registry.current_task_run(task_run_id)
        if run is None:
            raise NotFound(f"task run {task_run_id} not found")
        return run

    async def list_flow_runs(self, flt: FlowRunFilter, page_size: int, page_token: str) -> Page:
        await self.store.flush()
        page = paged(self.store.list_flow_runs, flt, page_size, page_token)
        # In-memory objects are authoritative for runs the orchestrator holds (when newer).
        page.items = [self.registry.merge_flow_run(r) for r in page.items]
        return page

    async def list_task_runs(
        self, flow_run_id: str, state_types: list[str], page_size: int, page_token: str
    ) -> Page:
        await self.store.flush()
        page = paged(self.store.list_task_runs, flow_run_id, state_types, page_size, page_token)
        page.items = [self.registry.merge_task_run(r) for r in page.items]
        return page

    async def all_task_runs(self, flow_run_id: str) -> list[TaskRun]:
        runs: list[TaskRun] = []
        token = ""
        while True:
            page = await self.list_task_runs(flow_run_id, [], 1000, token)
            runs += page.items
            token = page.next_token
            if not token:
                return runs

    async def read_states(self, run_kind: str, run_id: str) -> list[State]:
        if run_kind == "flow":
            self.read_flow_run(run_id)
        else:
            self.read_task_run(run_id)
        await self.store.flush()
        return self.store.read_states(run_id)

    async def watch(self, flow_run_id: str, include_task_runs: bool) -> AsyncGenerator[WatchItem, None]:
        self.read_flow_run(flow_run_id)
        await self.store.flush()
        reader = self.all_task_runs if include_task_runs else None
        async for item in follow(self.hub, flow_run_id, self.read_flow_run, reader):
            yield item

    # -- creation -----------------------------------------------------------------------------
    async def _settled(self, find, *key):
        """A run found by `find`, once its creation is durable: a run still being committed
        is waited for, and looked up again (if its commit failed it no longer exists)."""
        run = find(*key)
        if run is not None and run.id in self.registry.in_flight:
            await self.store.flush()
            run = find(*key)
        return run

    def _check_claim(self, flow_run: FlowRun, lease_epoch: int) -> None:
        """A process whose claim on `flow_run` was taken away creates nothing more under it."""
        reason = fenced_out(flow_run, Proposal(State(StateType.PENDING), lease_epoch=lease_epoch), None)
        if reason:
            raise FailedPrecondition(reason)

    async def create_flow_run(
        self, run: FlowRun, initial: State | None, next_state: State | None = None, lease_epoch: int = 0
    ) -> tuple[FlowRun, bool, Answer | None]:
        """Create the run in `initial` (Pending if None) unless its idempotency key names an
        existing one, then propose `next_state` if given; one commit for both."""
        tries = self.committer.fresh_copies(run, initial, next_state)
        return await self.committer.settle(lambda: self._create_flow_run_once(tries(), lease_epoch))

    async def _create_flow_run_once(
        self, start: tuple, lease_epoch: int
    ) -> tuple[FlowRun, bool, Answer | None]:
        run, initial, next_state = start  # (FlowRun, State | None, State | None)
        existing: FlowRun | None = None
        if run.idempotency_key:
            existing = await self._settled(self.registry.find_flow_run_by_key, run.idempotency_key)
        change = Change()
        if existing is None:
            check_parameters_json(run.parameters_json)
            if run.parent_task_run_id:
                tracker = self.registry.require_task_run(run.parent_task_run_id)
                if lease_epoch:
                    parent = self.registry.require_flow_run(tracker.flow_run_id)
                    self._check_claim(parent, lease_epoch)
                    change.batch.read("flow", parent.id, parent.version)  # the claim as checked
                    run.lease_epoch = lease_epoch  # a subflow is under its parent's claim
            if not run.name:
                run.name = f"{run.flow_name}-{run.id[:8]}"
            self.registry.remember_flow_run(run)
            self.registry.fully_indexed.add(run.id)
        else:
            run = existing
        answer = await self._begin(
            "flow", run, initial if existing is None else None, next_state, lease_epoch, change
        )
        return run, existing is None, answer

    async def create_task_run(
        self, run: TaskRun, initial: State | None, next_state: State | None, lease_epoch: int = 0
    ) -> tuple[TaskRun, bool, Answer | None]:
        """Create the task run (or find it by idempotency key, or by flow run, task key and
        dynamic key), then propose `next_state` if given; one commit for both."""
        tries = self.committer.fresh_copies(run, initial, next_state)
        return await self.committer.settle(lambda: self._create_task_run_once(tries(), lease_epoch))

    async def _create_task_run_once(
        self, start: tuple, lease_epoch: int
    ) -> tuple[TaskRun, bool, Answer | None]:
        run, initial, next_state = start  # (TaskRun, State | None, State | None)
        flow_run = self.registry.require_flow_run(run.flow_run_id)
        if lease_epoch:
            self._check_claim(flow_run, lease_epoch)
        existing: TaskRun | None = None
        if run.idempotency_key:
            existing = await self._settled(self.registry.find_task_run_by_key, run.idempotency_key)
        if existing is None:
            existing = await self._settled(
                self.registry.find_task_run, run.flow_run_id, run.task_key, run.dynamic_key
            )
        change = Change()
        if lease_epoch:
            change.batch.read("flow", flow_run.id, flow_run.version)  # the claim as checked
        created = existing is None
        if existing is None:
            if not run.name:
                run.name = f"{run.task_key}-{run.dynamic_key}"
            self.registry.remember_task_run(run)
        else:
            run = existing
        answer = await self._begin("task", run, initial if created else None, next_state, lease_epoch, change)
        return run, created, answer

    async def _begin(
        self,
        run_kind: str,
        run: FlowRun | TaskRun,
        initial: State | None,
        next_state: State | None,
        lease_epoch: int,
        change: Change,
    ) -> Answer | None:
        """A new run takes its initial state (forced; Pending if None); then `next_state` is
        proposed; both are committed together."""
        if run.state is None:
            self.proposals.apply(
                run_kind, run, Proposal(initial or State(StateType.PENDING), force=True), change
            )
        answer = None
        if next_state is not None:
            answer = self.proposals.decide_into(
                run_kind, run, Proposal(next_state, lease_epoch=lease_epoch), change
            )
        if change:
            await self.committer.commit(change)
        elif answer is not None:
            self.committer.confirm(change)
        return answer

    async def update_flow_run(
        self, flow_run_id: str, flow_version: str, policy: FlowRunPolicy | None
    ) -> FlowRun:
        """What the engine learns when it loads the flow: its version and retry settings."""
        return await self.committer.settle(
            lambda: self._update_flow_run_once(flow_run_id, flow_version, policy)
        )

    async def _update_flow_run_once(
        self, flow_run_id: str, flow_version: str, policy: FlowRunPolicy | None
    ) -> FlowRun:
        run = self.registry.require_flow_run(flow_run_id)
        if flow_version:
            run.flow_version = flow_version
        if policy is not None and run.empirical_policy.retries == 0 and policy.retries:
            run.empirical_policy.retries = policy.retries
            run.empirical_policy.retry_delay_seconds = policy.retry_delay_seconds
        change = Change()
        change.batch.put_flow_run(run)
        await self.committer.commit(change)
        return run
