"""A process holds the flow runs it drives, as a worker holds the runs it claimed: a script's
own top-level runs are created with this process as their holder, and their leases are renewed
here by heartbeats. The answers say when a run was asked to cancel, so the engine stops it
within a heartbeat instead of at its next task; if the process dies, the lapsed lease ends the
run Crashed (or Cancelled) on the orchestrator's side.

Cancel requests reach a run's driver through `cancel_event`, whoever learns of them first: a
heartbeat here, or the lease watch of a worker's child process."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid

from executor._port import OrchestratorPort

log = logging.getLogger("cadenza.engine")


class RunHolder:
    """Lives on the engine loop; one per runtime."""

    def __init__(self, port: OrchestratorPort, lease_seconds: float) -> None:
        self.port = port
        self.id = f"engine-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.lease_seconds = lease_seconds
        # Several beats a lease, and at least one a second: a cancel is noticed promptly.
        self.interval = min(1.0, lease_seconds / 4)
        self._held: set[str] = set()
        self._cancels: dict[str, asyncio.Event] = {}
        self._beating: asyncio.Task | None = None

    # -- the runs this process holds ---------------------------------------------------------
    def hold(self, flow_run_id: str) -> None:
        self._held.add(flow_run_id)
        if self._beating is None or self._beating.done():
            self._beating = asyncio.get_running_loop().create_task(self._beat())

    def release(self, flow_run_id: str) -> None:
        self._held.discard(flow_run_id)
        self._cancels.pop(flow_run_id, None)

    async def _beat(self) -> None:
        while self._held:
            await asyncio.sleep(self.interval)
            held = sorted(self._held)
            if not held:
                return
            try:
                cancel, lost = await self.port.heartbeat(self.id, held, self.lease_seconds)
            except Exception as exc:  # the orchestrator is away: the lease decides, not us
                log.debug("Heartbeat for flow runs %s failed: %r", held, exc)
                continue
            for run_id in cancel:
                self.request_cancel(run_id)
            for run_id in lost:
                # Finished, or taken away (its lease lapsed while this process was stalled).
                log.debug("Flow run %s is no longer held by this process", run_id)
                self._held.discard(run_id)

    # -- cancel requests -----------------------------------------------------------------------
    def cancel_event(self, flow_run_id: str) -> asyncio.Event:
        """Set once the run was asked to cancel; its driver waits on it beside the body."""
        event = self._cancels.get(flow_run_id)
        if event is None:
            event = self._cancels[flow_run_id] = asyncio.Event()
        return event

    def request_cancel(self, flow_run_id: str) -> None:
        event = self._cancels.get(flow_run_id)
        if event is not None and not event.is_set():
            log.info("Flow run %s was asked to cancel; stopping it", flow_run_id)
            event.set()
