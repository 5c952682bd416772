"""Making a batch of changes durable, then telling whoever watches.

A change is applied in memory when it is decided; the commit makes it durable. If the store
fails, the runs it touched are dropped from memory (they reload from the store as they were)
and the answers it carried are forgotten, so a failed commit leaves no trace. With a store
shared by replicas, a change decided on rows another replica changed meanwhile is refused the
same way (Conflict), and `settle` decides it again on what the store holds now.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.copies import copy_record
from ..store.base import Store, WriteBatch
from ..store.errors import StoreConflict, StoreError
from .errors import Conflict, Unavailable
from .idempotency import AnswerMemory
from .registry import Registry
from .watch import Event, StateEvent, WatchHub

if TYPE_CHECKING:
    from .replicas import Replicas

FlowStateListener = Callable[[StateEvent], None]
T = TypeVar("T")
# Tries of one request whose changes other replicas keep overtaking; then UNAVAILABLE, retried
# by the client. Each try reads what the previous one found stale, so two or three suffice
# but under heavy contention on one run or one limit.
SETTLE_ATTEMPTS = 8


@dataclass(slots=True)
class Change:
    """What one request changes: the writes to make durable together, and the events to
    publish once they are (each with the flow run it concerns)."""

    batch: WriteBatch = field(default_factory=WriteBatch)
    events: list[tuple[str, Event]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.batch)


class Committer:
    def __init__(self, store: Store, registry: Registry, answers: AnswerMemory, hub: WatchHub) -> None:
        self.store = store
        self.registry = registry
        self.answers = answers
        self.hub = hub
        self._flow_state_listeners: list[FlowStateListener] = []
        self.replicas: Replicas | None = None  # set when the store is shared

    async def settle(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()` decides from memory and commits; when another replica changed what it
        decided on (Conflict), memory has been brought up to date: decide and commit again."""
        for tries in range(1, SETTLE_ATTEMPTS + 1):
            try:
                return await attempt()
            except Conflict:
                if tries == SETTLE_ATTEMPTS:
                    raise
                # Replicas racing for one row take turns, not steps in lockstep.
                await asyncio.sleep(random.uniform(0, 0.002 * tries))
        raise AssertionError("unreachable")

    def fresh_copies(self, *values: Any) -> Callable[[], tuple[Any, ...]]:
        """What each try of `settle` starts from: a try changes the objects it decides on, so
        when a retry can happen (a shared store) every try gets copies of the originals."""
        if self.replicas is None:
            return lambda: values
        return lambda: tuple(copy_record(value) for value in values)

    def confirm(self, change: Change) -> None:
        """For a decision that changed nothing: raise Conflict if a row it was decided on has
        changed in the shared store since it was read (memory is then brought up to date)."""
        stale = self.registry.stale_reads(change.batch.reads)
        if stale:
            self.registry.undo(WriteBatch(reads=stale))
            raise Conflict("decided on rows another orchestrator changed meanwhile; retry")

    def on_flow_state(self, listener: FlowStateListener) -> None:
        """Call `listener` with every committed state change of a flow run."""
        self._flow_state_listeners.append(listener)

    async def commit(self, change: Change) -> None:
        """Return once the change is durable, then publish its events."""
        batch = change.batch
        run_ids = list(batch.flow_runs) + list(batch.task_runs)
        if self.replicas is not None:
            self._prepare_for_replicas(change)
        self.registry.begin_commit(run_ids, batch.limits)
        try:
            await self.store.commit(batch)
        except StoreConflict as exc:
            self.registry.undo(batch)
            self.answers.forget(batch.answered_transitions)
            raise Conflict(f"decided on rows another orchestrator changed meanwhile; retry: {exc}") from exc
        except StoreError as exc:
            self.registry.undo(batch)
            self.answers.forget(batch.answered_transitions)
            raise Unavailable(f"the store could not record the change; retry: {exc}") from exc
        finally:
            self.registry.end_commit(run_ids, batch.limits)
        for flow_run_id, event in change.events:
            self.hub.publish(flow_run_id, event)
            if isinstance(event, StateEvent) and event.run_kind == "flow":
                for listener in self._flow_state_listeners:
                    listener(event)

    def _prepare_for_replicas(self, change: Change) -> None:
        """Check only rows read and not written (written ones are checked by their version),
        and tell the other replicas what this change writes."""
        batch = change.batch
        written = {("flow", k) for k in batch.flow_runs} | {("task", k) for k in batch.task_runs}
        written |= {("limit", k) for k in batch.limits}
        batch.reads = [r for r in dict.fromkeys(batch.reads) if (r[0], r[1]) not in written and r[2] > 0]
        versions = [("flow", k, row.version) for k, row in batch.flow_runs.items()]
        versions += [("task", k, row.version) for k, row in batch.task_runs.items()]
        versions += [("limit", tag, batch.limit_versions.get(tag, (0, -1))[1]) for tag in batch.limits]
        assert self.replicas is not None
        batch.notes = self.replicas.notes(versions, change.events)
