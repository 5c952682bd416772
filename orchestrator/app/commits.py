"""Making a batch of changes durable, then telling whoever watches.

A change is applied in memory when it is decided; the commit makes it durable. If the store
fails, the runs it touched are dropped from memory (they reload from the store as they were)
and the answers it carried are forgotten, so a failed commit leaves no trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..store.base import Store, WriteBatch
from ..store.errors import StoreError
from .errors import Unavailable
from .idempotency import AnswerMemory
from .registry import Registry
from .watch import Event, StateEvent, WatchHub

FlowStateListener = Callable[[StateEvent], None]


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

    def on_flow_state(self, listener: FlowStateListener) -> None:
        """Call `listener` with every committed state change of a flow run."""
        self._flow_state_listeners.append(listener)

    async def commit(self, change: Change) -> None:
        """Return once the change is durable, then publish its events."""
        batch = change.batch
        run_ids = list(batch.flow_runs) + list(batch.task_runs)
        self.registry.begin_commit(run_ids)
        try:
            await self.store.commit(batch)
        except StoreError as exc:
            self.registry.undo(batch)
            self.answers.forget(batch.answered_transitions)
            raise Unavailable(f"the store could not record the change; retry: {exc}") from exc
        finally:
            self.registry.end_commit(run_ids)
        for flow_run_id, event in change.events:
            self.hub.publish(flow_run_id, event)
            if isinstance(event, StateEvent) and event.run_kind == "flow":
                for listener in self._flow_state_listeners:
                    listener(event)
