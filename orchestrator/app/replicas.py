"""Replicas sharing one store tell each other what they committed: each one's memory (a cache
there) drops the copies that went stale, and its watchers see changes made through any replica.

A note is JSON sent with the commit that made the changes (the store delivers it only if that
commit holds): {"o": sender, "i": [item, ...]}, where an item is ["v", kind, id, version] (a row
written), ["s", flow_run_id, run_kind, run_id, run_name, state_doc or null, state_id] (a state)
or ["l", entry] (a log line); a batch too large for one note is told in several.
A state too large for a note travels as its id and is read from the store by whoever needs it.

A replica alone on its database sends no notes (they would cost every commit for nobody): it
starts sending once it hears from another, and a replica says hello when it starts listening
(and whenever it listens again), so the others start before it serves anything.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from ..core.models import new_id
from ..store import codec
from ..store.base import NOTE_BYTES, SharedStore
from .registry import Registry
from .watch import Event, LogEvent, StateEvent, WatchHub

log = logging.getLogger("cadenza.orchestrator.replicas")

FlowStateListener = Callable[[StateEvent], None]


class Replicas:
    def __init__(self, store: SharedStore, registry: Registry, hub: WatchHub) -> None:
        self.store = store
        self.registry = registry
        self.hub = hub
        self.origin = new_id()
        # Every note starts with its sender: a replica skips its own without parsing them.
        self._own = _encode(self.origin, [])[:-6]
        self.others = False  # whether another replica has been heard (or seen listening)
        self._flow_state_listeners: list[FlowStateListener] = []

    def on_flow_state(self, listener: FlowStateListener) -> None:
        """Call `listener` with every flow state committed through another replica."""
        self._flow_state_listeners.append(listener)

    # -- sending ------------------------------------------------------------------------------
    def notes(self, versions: list[tuple[str, str, int]], events: list[tuple[str, Event]]) -> list[str]:
        """The notes that tell the other replicas about one batch, each within NOTE_BYTES."""
        if not self.others:
            return []
        items = [["v", kind, key, version] for kind, key, version in versions]
        items += [_event_item(flow_run_id, event) for flow_run_id, event in events]
        notes: list[str] = []
        current: list[list] = []
        size = len(_encode(self.origin, []))
        for item in items:
            length = len(json.dumps(item, separators=(",", ":"))) + 1
            if size + length > NOTE_BYTES and item[0] == "s":
                item = [*item[:5], None, item[6]]  # the state is read from the store instead
                length = len(json.dumps(item, separators=(",", ":"))) + 1
            if size + length > NOTE_BYTES:
                if current:
                    notes.append(_encode(self.origin, current))
                    current, size = [], len(_encode(self.origin, []))
                if size + length > NOTE_BYTES:
                    continue  # a log line too long for any note: readable through ReadLogs
            current.append(item)
            size += length
        if current:
            notes.append(_encode(self.origin, current))
        return notes

    # -- hearing ------------------------------------------------------------------------------
    def hear(self, text: str) -> None:
        if text.startswith(self._own):
            return
        note = json.loads(text)
        self.others = True
        for item in note.get("i", ()):
            if item[0] == "v":
                self._drop_stale(item[1], item[2], item[3])
                continue
            event = self._event(item)
            if event is None:
                continue
            flow_run_id = event.flow_run_id if isinstance(event, StateEvent) else event.entry["flow_run_id"]
            if isinstance(event, StateEvent) and event.run_kind == "task":
                # A task run made through another replica: this one no longer knows them all.
                self.registry.fully_indexed.discard(flow_run_id)
            self.hub.publish(flow_run_id, event)
            if isinstance(event, StateEvent) and event.run_kind == "flow":
                for listener in self._flow_state_listeners:
                    listener(event)

    def _drop_stale(self, kind: str, key: str, version: int) -> None:
        registry = self.registry
        if kind == "limit":
            held = registry.limits.get(key)
            if held is None or (held.version != version and key not in registry.limits_in_flight):
                registry.merge_limits(self.store.limits_on([key]), [key])
            return
        table = registry.flow_runs if kind == "flow" else registry.task_runs
        held_run = table.items.get(key)
        if held_run is not None and held_run.version != version and key not in registry.in_flight:
            registry.forget(key)  # read again from the store when next needed

    def missed_some(self) -> None:
        """Notes may have been lost (the listening connection was down): every copy in memory
        that no commit of ours holds is read again when next needed."""
        registry = self.registry
        for table in (registry.flow_runs, registry.task_runs):
            for key in [k for k in table.items if k not in registry.in_flight]:
                registry.forget(key)
        registry.merge_limits(self.store.list_limits())
        self.others = self.others or self.store.other_listeners() > 0
        self.store.announce(_encode(self.origin, []))  # hello: start sending notes

    async def listen(self) -> None:
        await self.store.listen(self.hear, self.missed_some)

    def _event(self, item: list) -> Event | None:
        if item[0] == "l":
            return LogEvent(item[1])
        _, flow_run_id, run_kind, run_id, run_name, doc, state_id = item
        if doc is not None:
            state = codec.loads_state(doc)
        else:
            found = [s for s in self.store.read_states(run_id) if s.id == state_id]
            if not found:
                log.warning(
                    "state %s of %s run %s was announced but is not stored", state_id, run_kind, run_id
                )
                return None
            state = found[0]
        return StateEvent(run_kind, run_id, run_name, flow_run_id, state)


def _event_item(flow_run_id: str, event: Event) -> list:
    if isinstance(event, LogEvent):
        return ["l", event.entry]
    state = event.state
    return [
        "s",
        flow_run_id,
        event.run_kind,
        event.run_id,
        event.run_name,
        codec.dumps_state(state),
        state.id,
    ]


def _encode(origin: str, items: list[list]) -> str:
    return json.dumps({"o": origin, "i": items}, separators=(",", ":"))
