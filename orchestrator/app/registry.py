"""In-memory view of the runs the orchestrator is working on, over the durable store.

Decisions read and change these objects on the event loop thread (one at a time, so proposals
on one run are serialised within this process), and the store makes each change durable
before it is answered. Final runs are evicted least-recently-used; runs with commits in flight
never are.

With a store of its own (SQLite) the orchestrator is its only writer and memory is the
authority. With a shared store (PostgreSQL, several replicas) memory is a cache: every copy
carries the row version it was read at, writes are checked against it (a stale copy's change
is refused, forgotten here, and decided again), reads that answer clients come from the store,
and other replicas' notes drop the copies they made stale (replicas.py).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection
from datetime import datetime
from itertools import islice
from typing import Generic, TypeVar

from ..core.models import CacheEntry, ConcurrencyLimit, FlowRun, State, TaskRun
from ..store.base import SharedStore, Store, WriteBatch
from .errors import NotFound

_Run = TypeVar("_Run", FlowRun, TaskRun)


class _LRU(Generic[_Run]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: OrderedDict[str, _Run] = OrderedDict()

    def get(self, key: str) -> _Run | None:
        run = self.items.get(key)
        if run is not None:
            self.items.move_to_end(key)
        return run

    def put(self, key: str, run: _Run, pinned: Collection[str]) -> None:
        self.items[key] = run
        self.items.move_to_end(key)
        if len(self.items) <= self.capacity:
            return
        # Evict old final runs only: a live run's in-memory state is the one that matters.
        excess = len(self.items) - self.capacity
        victims = []
        for old_key in islice(self.items, excess + 64):
            old = self.items[old_key]
            if old_key in pinned or old.state is None or not old.state.is_final():
                continue
            victims.append(old_key)
            if len(victims) >= excess:
                break
        for old_key in victims:
            del self.items[old_key]

    def pop(self, key: str) -> None:
        self.items.pop(key, None)


class Registry:
    """Runs, limits and recent cache entries in memory, read through to the store."""

    # Bounded so that memory stays flat however many runs pass through (final runs beyond
    # these are evicted and read back from the store if asked for; live ones never are).
    def __init__(self, store: Store, capacity: int = 10_000) -> None:
        self.store = store
        self.shared: SharedStore | None = store if getattr(store, "shared", False) else None  # type: ignore[assignment]
        self.flow_runs: _LRU[FlowRun] = _LRU(capacity)
        self.task_runs: _LRU[TaskRun] = _LRU(capacity * 2)
        self.task_keys: dict[tuple[str, str, str], str] = {}
        # Flow runs created by this process whose every task run is in `task_keys`: a key not
        # found there does not exist, and the store need not be asked.
        self.fully_indexed: set[str] = set()
        self.limits: dict[str, ConcurrencyLimit] = {}
        self.recent_cache: OrderedDict[str, CacheEntry] = OrderedDict()
        self.in_flight: dict[str, int] = {}  # run id -> commits not yet durable
        self.limits_in_flight: dict[str, int] = {}  # tag -> commits not yet durable
        # Idempotency keys of runs created by this process, so a second create with the same
        # key in the same event-loop turn finds the first before it is stored.
        self.flow_run_keys: dict[str, str] = {}
        self.task_run_keys: dict[str, str] = {}

    def load(self) -> None:
        for limit in self.store.list_limits():
            self.limits[limit.tag] = limit
        for run in self.store.non_final_flow_runs():
            self.flow_runs.put(run.id, run, set())

    # -- runs ---------------------------------------------------------------------------------
    def require_flow_run(self, flow_run_id: str) -> FlowRun:
        run = self.read_flow_run(flow_run_id)
        if run is None:
            raise NotFound(f"flow run {flow_run_id} not found")
        return run

    def require_task_run(self, task_run_id: str) -> TaskRun:
        run = self.read_task_run(task_run_id)
        if run is None:
            raise NotFound(f"task run {task_run_id} not found")
        return run

    def read_flow_run(self, flow_run_id: str) -> FlowRun | None:
        run = self.flow_runs.get(flow_run_id)
        if run is None:
            run = self.store.get_flow_run(flow_run_id)
            if run is not None:
                self.flow_runs.put(run.id, run, self.in_flight.keys())
        return run

    def current_flow_run(self, flow_run_id: str) -> FlowRun | None:
        """The run as a client must see it: with a shared store, as stored now (or newer, when
        this process is committing a change to it)."""
        if self.shared is None:
            return self.read_flow_run(flow_run_id)
        stored = self.store.get_flow_run(flow_run_id)
        return None if stored is None else self.merge_flow_run(stored)

    def current_task_run(self, task_run_id: str) -> TaskRun | None:
        if self.shared is None:
            return self.read_task_run(task_run_id)
        stored = self.store.get_task_run(task_run_id)
        return None if stored is None else self.merge_task_run(stored)

    def merge_flow_run(self, stored: FlowRun) -> FlowRun:
        """The copy to use of a run just read from the store: the one in memory if it is as new."""
        held = self.flow_runs.items.get(stored.id)
        if held is not None and self._as_new(held, stored):
            return held
        self.flow_runs.put(stored.id, stored, self.in_flight.keys())
        return stored

    def merge_task_run(self, stored: TaskRun) -> TaskRun:
        held = self.task_runs.items.get(stored.id)
        if held is not None and self._as_new(held, stored):
            return held
        self.remember_task_run(stored)
        return stored

    def _as_new(self, held: FlowRun | TaskRun, stored: FlowRun | TaskRun) -> bool:
        """Memory's copy is at least as new as the store's: it is the authority (one writer),
        the same version, or ahead by a commit in flight."""
        return self.shared is None or held.version == stored.version or held.id in self.in_flight

    def merge_limits(self, stored: list[ConcurrencyLimit], tags: Collection[str] | None = None) -> None:
        """Bring the limits on `tags` (all if None) to what the store holds, keeping each one's
        waiters (in memory only) and any copy newer than the store's."""
        found = {limit.tag for limit in stored}
        for tag in [t for t in self.limits if t not in found and (tags is None or t in tags)]:
            del self.limits[tag]
        for limit in stored:
            held = self.limits.get(limit.tag)
            if held is None:
                self.limits[limit.tag] = limit
            elif held.version != limit.version and limit.tag not in self.limits_in_flight:
                held.concurrency_limit = limit.concurrency_limit
                held.active_slots = limit.active_slots
                held.version = limit.version
                held.id, held.created = limit.id, limit.created

    def read_task_run(self, task_run_id: str) -> TaskRun | None:
        run = self.task_runs.get(task_run_id)
        if run is None:
            run = self.store.get_task_run(task_run_id)
            if run is not None:
                self.remember_task_run(run)
        return run

    def find_task_run(self, flow_run_id: str, task_key: str, dynamic_key: str) -> TaskRun | None:
        known = self.task_keys.get((flow_run_id, task_key, dynamic_key))
        if known is not None:
            run = self.read_task_run(known)
            if run is not None:
                return run
        elif flow_run_id in self.fully_indexed:
            # With replicas, one may have created it all the same: then the store refuses the
            # second as a conflict, forget() drops the shortcut, and the retry asks the store.
            return None
        run = self.store.find_task_run(flow_run_id, task_key, dynamic_key)
        if run is not None:
            self.remember_task_run(run)
        return run

    def remember_flow_run(self, run: FlowRun) -> None:
        self.flow_runs.put(run.id, run, self.in_flight.keys())
        if run.idempotency_key:
            _remember_key(self.flow_run_keys, run.idempotency_key, run.id)

    def remember_task_run(self, run: TaskRun) -> None:
        self.task_runs.put(run.id, run, self.in_flight.keys())
        key = (run.flow_run_id, run.task_key, run.dynamic_key)
        self.task_keys[key] = run.id
        if run.idempotency_key:
            _remember_key(self.task_run_keys, run.idempotency_key, run.id)
        if len(self.task_keys) > self.task_runs.capacity * 2:
            # The key index is only a shortcut; the store answers what it forgets.
            for stale in list(self.task_keys)[: len(self.task_keys) // 2]:
                del self.task_keys[stale]
            self.fully_indexed.clear()

    def forget(self, run_id: str) -> None:
        """Drop a run whose in-memory change could not be committed; it reloads from the store."""
        flow_run = self.flow_runs.items.get(run_id)
        if flow_run is not None and self.flow_run_keys.get(flow_run.idempotency_key) == run_id:
            del self.flow_run_keys[flow_run.idempotency_key]
        task_run = self.task_runs.items.get(run_id)
        if task_run is not None:
            self.fully_indexed.discard(task_run.flow_run_id)
            key = (task_run.flow_run_id, task_run.task_key, task_run.dynamic_key)
            if self.task_keys.get(key) == run_id:
                del self.task_keys[key]
            if self.task_run_keys.get(task_run.idempotency_key) == run_id:
                del self.task_run_keys[task_run.idempotency_key]
        self.flow_runs.pop(run_id)
        self.task_runs.pop(run_id)

    def undo(self, batch: WriteBatch) -> None:
        """Put memory back to what the store holds after `batch` failed to commit: its runs
        (and those it was decided on) reload from the store, its limits are read again (a slot
        it took is not there), and cache entries it added are forgotten."""
        run_ids = set(batch.flow_runs) | set(batch.task_runs)
        for run_id in run_ids | {key for kind, key, _ in batch.reads if kind != "limit"}:
            self.forget(run_id)
        tags = set(batch.limits) | {key for kind, key, _ in batch.reads if kind == "limit"}
        if tags:
            stored = {limit.tag: limit for limit in self.store.list_limits()}
            for tag in tags:
                limit = self.limits.get(tag)
                if tag not in stored:
                    self.limits.pop(tag, None)
                elif limit is None:
                    self.limits[tag] = stored[tag]
                else:
                    limit.concurrency_limit = stored[tag].concurrency_limit
                    # The store's slots, not fewer: a slot the failed batch gave back is still
                    # held there, and its retry must find it to give it back.
                    limit.active_slots = stored[tag].active_slots
                    limit.version = stored[tag].version
        for key, _, _ in batch.cache_entries:
            self.recent_cache.pop(key, None)

    def find_flow_run_by_key(self, idempotency_key: str) -> FlowRun | None:
        known = self.flow_run_keys.get(idempotency_key)
        if known is not None and (run := self.read_flow_run(known)) is not None:
            return run
        found = self.store.find_flow_run_by_idempotency_key(idempotency_key)
        return found and (self.read_flow_run(found.id) or found)

    def find_task_run_by_key(self, idempotency_key: str) -> TaskRun | None:
        known = self.task_run_keys.get(idempotency_key)
        if known is not None and (run := self.read_task_run(known)) is not None:
            return run
        found = self.store.find_task_run_by_idempotency_key(idempotency_key)
        return found and self.read_task_run(found.id)

    def lookup_cache(self, cache_key: str, now: datetime) -> State | None:
        entry = self.recent_cache.get(cache_key)
        if entry is not None and (entry.expiration is None or entry.expiration > now):
            return entry.state
        return self.store.lookup_cache(cache_key, now)

    def remember_cache_entry(self, entry: CacheEntry) -> None:
        self.recent_cache[entry.key] = entry
        self.recent_cache.move_to_end(entry.key)
        while len(self.recent_cache) > 10000:
            self.recent_cache.popitem(last=False)

    def limits_on(self, tags: list[str]) -> list[ConcurrencyLimit]:
        """The limits on these tags, once each (tags without a limit are skipped); with a
        shared store, as stored now, since a slot may have been taken through a replica."""
        wanted = list(dict.fromkeys(tags))
        if self.shared is not None:
            self.merge_limits(self.shared.limits_on(wanted), wanted)
        if not self.limits:
            return []
        return [limit for tag in wanted if (limit := self.limits.get(tag)) is not None]

    def all_limits(self) -> list[ConcurrencyLimit]:
        if self.shared is not None:
            self.merge_limits(self.store.list_limits())
        return sorted(self.limits.values(), key=lambda limit: limit.tag)

    def stale_reads(self, reads: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
        """The rows read at a version the shared store no longer holds (none with one writer)."""
        # A run whose commit is in flight here is newer than the store: it is ours to write.
        reads = [r for r in reads if r[2] > 0 and r[1] not in self.in_flight]
        reads = [r for r in reads if r[0] != "limit" or r[1] not in self.limits_in_flight]
        if self.shared is None or not reads:
            return []
        current = self.shared.current_versions([(kind, key) for kind, key, _ in reads])
        return [read for read in reads if current.get((read[0], read[1]), -1) != read[2]]

    # -- commit tracking ------------------------------------------------------------------
    def begin_commit(self, run_ids: Collection[str], tags: Collection[str] = ()) -> None:
        for counts, keys in ((self.in_flight, run_ids), (self.limits_in_flight, tags)):
            for key in keys:
                counts[key] = counts.get(key, 0) + 1

    def end_commit(self, run_ids: Collection[str], tags: Collection[str] = ()) -> None:
        for counts, keys in ((self.in_flight, run_ids), (self.limits_in_flight, tags)):
            for key in keys:
                left = counts.get(key, 0) - 1
                if left <= 0:
                    counts.pop(key, None)
                else:
                    counts[key] = left

    def live_flow_runs(self) -> list[tuple[FlowRun, State]]:
        """Flow runs that have not ended, each with its current state: those in memory, or
        with a shared store, those stored (another replica may have created them)."""
        runs: Collection[FlowRun] = self.flow_runs.items.values()
        if self.shared is not None:
            runs = [self.merge_flow_run(stored) for stored in self.store.non_final_flow_runs()]
        return [(r, r.state) for r in runs if r.state and not r.state.is_final()]


def _remember_key(index: dict[str, str], key: str, run_id: str, capacity: int = 20_000) -> None:
    index[key] = run_id
    if len(index) > capacity:
        # Only a shortcut for runs not yet stored: the store answers for the older ones.
        for stale in list(index)[: capacity // 2]:
            del index[stale]
