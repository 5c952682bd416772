"""The orchestrator's own work, on a timer: failing expired pauses, crashing runs whose lease
lapsed, marking late runs, and scheduling the next runs of deployments."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("cadenza.orchestrator")


async def every(
    interval: float, step: Callable[[], Awaitable[object]], what: str, at_once: bool = False
) -> None:
    """Run `step` every `interval` seconds (the first time at once, or after one interval)
    until cancelled; a failing step is logged and the loop goes on, since one bad run must
    not stop the bookkeeping of every other."""
    if not at_once:
        await asyncio.sleep(interval)
    while True:
        try:
            await step()
        except Exception:
            log.exception("%s failed", what)
        await asyncio.sleep(interval)


def start_loops(
    orchestrator, pause_interval: float = 0.5, lease_interval: float = 0.5, schedule_interval: float = 1.0
) -> list[asyncio.Task]:
    leases = orchestrator.leases
    shared = orchestrator.registry.shared

    def only_one_replica(step: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
        """With replicas sharing the store, the step runs on the one that leads (see
        store/postgres_leader.py), so a run is crashed once and a schedule filled once."""
        if shared is None:
            return step

        async def led() -> object:
            return await step() if shared.leads_background() else None

        return led

    async def lease_step() -> None:
        await leases.crash_lapsed_leases()
        await leases.mark_late_runs()

    loop = asyncio.get_running_loop()
    pauses = only_one_replica(orchestrator.pauses.fail_expired)
    schedules = only_one_replica(orchestrator.deployments.schedule_due_runs)
    return [
        loop.create_task(every(pause_interval, pauses, "pause expiry check")),
        loop.create_task(every(lease_interval, only_one_replica(lease_step), "lease bookkeeping")),
        loop.create_task(every(schedule_interval, schedules, "scheduling deployments", at_once=True)),
    ]
