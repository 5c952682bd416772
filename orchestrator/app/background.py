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

    async def lease_step() -> None:
        await leases.crash_lapsed_leases()
        await leases.mark_late_runs()

    loop = asyncio.get_running_loop()
    return [
        loop.create_task(every(pause_interval, orchestrator.pauses.fail_expired, "pause expiry check")),
        loop.create_task(every(lease_interval, lease_step, "lease bookkeeping")),
        loop.create_task(
            every(
                schedule_interval,
                orchestrator.deployments.schedule_due_runs,
                "scheduling deployments",
                at_once=True,
            )
        ),
    ]
