"""A claimed run's process keeps its claim honest: it stops (the whole process exits at once)
as soon as it learns the claim was taken away, or when it can no longer confirm the claim
before the lease lapses. Only then may the orchestrator hand the run and its concurrency
slots to others (it waits a grace period after the lapse), so nothing of an old claim acts
beside a new one."""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import os
from collections.abc import Callable

from executor._port import OrchestratorPort
from executor.exceptions import ObjectNotFound, OrchestratorError
from executor.states import StateType

log = logging.getLogger("cadenza.engine")

# The exit status of a process that stopped because its claim was gone (EX_TEMPFAIL).
EXIT_CLAIM_LOST = 75
_UTC = _dt.UTC
_active: LeaseWatch | None = None


def active() -> LeaseWatch | None:
    """The watch of this process's claim, when it works under one."""
    return _active


class LeaseWatch:
    def __init__(
        self,
        port: OrchestratorPort,
        flow_run_id: str,
        epoch: int,
        expires: _dt.datetime | None,
        on_cancel: Callable[[str], None] | None = None,
    ) -> None:
        self.port = port
        self.on_cancel = on_cancel  # told when the run was asked to cancel
        self.flow_run_id = flow_run_id
        self.epoch = epoch
        self.expires = expires
        left = (expires - _dt.datetime.now(_UTC)).total_seconds() if expires else 4.0
        # Several looks per lease, so the process is gone soon after its lease lapsed.
        self.interval = min(1.0, max(0.05, left / 4))

    async def run(self) -> None:
        global _active
        _active = self
        try:
            while True:
                await asyncio.sleep(self.interval)
                await self.verify()
        finally:
            _active = None

    async def verify(self) -> None:
        """Look at the claim now; stop the process if it is gone."""
        # Never wait past the lease for an answer: the claim must be confirmed before it lapses.
        left = (self.expires - _dt.datetime.now(_UTC)).total_seconds() if self.expires else 5.0
        try:
            run = await asyncio.wait_for(self.port.read_flow_run(self.flow_run_id), max(0.2, min(left, 5.0)))
        except (OrchestratorError, ObjectNotFound, OSError, TimeoutError) as exc:
            # The orchestrator cannot say: the claim holds until the lease it last saw lapses.
            if self.expires is not None and _dt.datetime.now(_UTC) > self.expires:
                self.stop(f"its lease lapsed and could not be confirmed ({exc})")
            return
        if run.lease_epoch != self.epoch:
            self.stop(f"its claim was taken away (lease epoch {self.epoch}, now {run.lease_epoch})")
        if self.on_cancel is not None and run.state is not None and run.state.type is StateType.CANCELLING:
            self.on_cancel(self.flow_run_id)  # stopped now, not at its next task
        if run.lease_expiration is None:
            return  # the run ended or waits for a retry in place: the claim is over or held
        self.expires = run.lease_expiration
        if _dt.datetime.now(_UTC) > run.lease_expiration:
            self.stop("its lease lapsed: the executor that held it stopped renewing it")

    def stop(self, why: str) -> None:
        log.error("flow run %s: stopping this process at once: %s", self.flow_run_id, why)
        for handler in logging.getLogger().handlers + logging.getLogger("cadenza").handlers:
            handler.flush()
        os._exit(EXIT_CLAIM_LOST)  # no cleanup may run: the claim is someone else's now
