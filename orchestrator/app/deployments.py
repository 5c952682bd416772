"""Deployments: named flow entrypoints, runs created from them, and their schedules."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from croniter import croniter

from ..core.models import Deployment, FlowRun, FlowRunPolicy, State, StateDetails, StateType, now_utc
from ..store.base import Store
from .commits import Change, Committer
from .errors import InvalidArgument, NotFound, echo
from .runs import Runs, check_parameters_json

# How many future runs of a scheduled deployment exist at any time.
SCHEDULED_AHEAD = 3


def check_entrypoint(entrypoint: str) -> None:
    target, sep, func = entrypoint.rpartition(":")
    if not sep or not target or not func.isidentifier():
        raise InvalidArgument(
            f"entrypoint {echo(entrypoint)} must look like 'path/to/file.py:flow_function' "
            "or 'package.module:flow_function'"
        )


def check_schedule(interval: float, cron: str) -> None:
    if interval < 0:
        raise InvalidArgument(f"schedule.interval_seconds must not be negative (got {interval})")
    if interval and cron:
        raise InvalidArgument("schedule takes interval_seconds or cron, not both")
    if cron and not croniter.is_valid(cron):
        raise InvalidArgument(f"schedule.cron {echo(cron)} is not a valid cron expression")


def next_times(dep: Deployment, after: datetime, count: int) -> list[datetime]:
    if dep.schedule.cron:
        it = croniter(dep.schedule.cron, after)
        return [it.get_next(datetime) for _ in range(count)]
    step = timedelta(seconds=dep.schedule.interval_seconds)
    elapsed = max(0, int((after - dep.created) / step) + 1)
    return [dep.created + step * (elapsed + i) for i in range(count)]


class Deployments:
    def __init__(self, store: Store, runs: Runs, committer: Committer) -> None:
        self.store = store
        self.runs = runs
        self.committer = committer
        # With a shared store, replicas create and delete deployments too: read them each time.
        self.shared = bool(getattr(store, "shared", False))
        self.by_id: dict[str, Deployment] = {d.id: d for d in store.list_deployments()}

    def _current(self) -> dict[str, Deployment]:
        if self.shared:
            self.by_id = {d.id: d for d in self.store.list_deployments()}
        return self.by_id

    def _by_name(self, name: str) -> Deployment | None:
        return next((d for d in self._current().values() if d.name == name), None)

    async def create(self, dep: Deployment) -> tuple[Deployment, bool]:
        if not dep.name:
            raise InvalidArgument("name is required")
        if not dep.flow_name:
            raise InvalidArgument("flow_name is required")
        check_entrypoint(dep.entrypoint)
        check_parameters_json(dep.parameters_json)
        check_schedule(dep.schedule.interval_seconds, dep.schedule.cron)
        return await self.committer.settle(lambda: self._create_once(dep))

    async def _create_once(self, dep: Deployment) -> tuple[Deployment, bool]:
        existing = self._by_name(dep.name)
        created = existing is None
        if existing is not None:
            dep.id, dep.created = existing.id, existing.created
        change = Change()
        change.batch.put_deployment(dep)
        await self.committer.commit(change)
        self.by_id[dep.id] = dep
        return dep, created

    def read(self, deployment_id: str = "", name: str = "") -> Deployment:
        if not deployment_id and not name:
            raise InvalidArgument("deployment_id or name is required")
        dep = self._current().get(deployment_id) if deployment_id else self._by_name(name)
        if dep is None:
            raise NotFound(f"deployment {echo(deployment_id or name)} not found")
        return dep

    def all(self) -> list[Deployment]:
        return sorted(self._current().values(), key=lambda d: d.name)

    async def delete(self, name: str) -> None:
        dep = self.read(name=name)
        change = Change()
        change.batch.delete_deployment(dep.id)
        await self.committer.commit(change)
        self.by_id.pop(dep.id, None)

    async def create_flow_run(
        self,
        dep: Deployment,
        parameters_json: str = "",
        tags: list[str] | None = None,
        idempotency_key: str = "",
        scheduled_time: datetime | None = None,
        name: str = "",
    ) -> tuple[FlowRun, bool]:
        params = json.loads(dep.parameters_json or "{}")
        if parameters_json:
            check_parameters_json(parameters_json)
            params.update(json.loads(parameters_json))
        run = FlowRun(
            name=name,
            flow_name=dep.flow_name,
            parameters_json=json.dumps(params),
            tags=list(dict.fromkeys([*dep.tags, *(tags or [])])),
            deployment_id=dep.id,
            idempotency_key=idempotency_key,
            entrypoint=dep.entrypoint,
            empirical_policy=FlowRunPolicy(),
        )
        when = scheduled_time or now_utc()
        initial = State(StateType.SCHEDULED, details=StateDetails(scheduled_time=when))
        run, created, _ = await self.runs.create_flow_run(run, initial)
        return run, created

    async def schedule_due_runs(self) -> int:
        """Keep the next few runs of every scheduled deployment in the Scheduled state."""
        made = 0
        now = now_utc()
        for dep in list(self._current().values()):
            if not dep.schedule:
                continue
            for when in next_times(dep, now, SCHEDULED_AHEAD):
                key = f"schedule:{dep.id}:{when.isoformat()}"
                _, created = await self.create_flow_run(dep, idempotency_key=key, scheduled_time=when)
                made += created
        return made
