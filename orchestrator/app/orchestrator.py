"""The application layer put together over one store: every part, wired once."""

from __future__ import annotations

from ..core.inputs import PolicySettings
from ..store.base import Store
from .commits import Committer
from .deployments import Deployments
from .descendants import Descendants
from .idempotency import AnswerMemory
from .inputs import InputGatherer
from .leases import Leases
from .limits import Limits
from .logs import Logs
from .pauses import Pauses
from .proposals import Proposals
from .registry import Registry
from .replicas import Replicas
from .runs import Runs
from .watch import WatchHub


class Orchestrator:
    def __init__(
        self,
        store: Store,
        settings: PolicySettings | None = None,
        late_runs_after_seconds: float = 5.0,
        lease_takeover_grace_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self.registry = Registry(store)
        self.registry.load()
        self.hub = WatchHub()
        answers = AnswerMemory(store)
        self.committer = Committer(store, self.registry, answers, self.hub)
        gatherer = InputGatherer(self.registry)
        self.proposals = Proposals(
            self.registry, gatherer, answers, self.committer, settings or PolicySettings()
        )
        self.runs = Runs(store, self.registry, self.proposals, self.committer, self.hub)
        self.pauses = Pauses(self.registry, self.proposals, self.committer)
        self.limits = Limits(self.registry, self.committer)
        self.logs = Logs(store, self.registry, self.committer)
        self.leases = Leases(
            self.registry,
            self.proposals,
            self.committer,
            late_runs_after_seconds,
            lease_takeover_grace_seconds,
        )
        self.deployments = Deployments(store, self.runs, self.committer)
        self.descendants = Descendants(store, self.registry, self.proposals)
        self.committer.on_flow_state(self.leases.on_flow_state)
        self.committer.on_flow_state(self.descendants.on_flow_state)
        # Replicas sharing the store: tell the others what is committed here, and hear theirs
        # (a run scheduled through another replica wakes the workers polling this one).
        self.replicas: Replicas | None = None
        if self.registry.shared is not None:
            self.replicas = Replicas(self.registry.shared, self.registry, self.hub)
            self.committer.replicas = self.replicas
            self.replicas.on_flow_state(self.leases.on_flow_state)
