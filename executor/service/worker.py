"""The worker half of the executor: claim due runs, run each in a child process, keep the
leases alive with heartbeats, and stop runs whose cancellation was requested.

A child is `python -m executor.engine <flow-run-id>`, started only for a run whose entrypoint
the executor's allowlist allows (any other run is failed at once). If it exits while its run is still
unfinished, the worker reports Crashed (or Cancelled, when a cancel was under way); if the
whole executor dies, the orchestrator notices the lapsed lease and does the same.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass

import grpc

from cadenza.v1 import orchestrator_pb2 as pb
from cadenza.v1 import states_pb2 as spb

from .._allowlist import VARIABLE as ALLOWLIST_VARIABLE
from .._allowlist import EntrypointNotAllowed
from .config import ExecutorConfig

log = logging.getLogger("cadenza.executor.worker")

_FINAL = {spb.STATE_TYPE_COMPLETED, spb.STATE_TYPE_FAILED, spb.STATE_TYPE_CRASHED, spb.STATE_TYPE_CANCELLED}


@dataclass(eq=False)
class Child:
    flow_run_id: str
    process: asyncio.subprocess.Process
    lease_epoch: int = 0  # of the claim this process works under
    cancelling: bool = False


def _exit_description(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class Worker:
    def __init__(self, stub, config: ExecutorConfig) -> None:
        self.stub = stub
        self.config = config
        self.children: dict[str, Child] = {}
        self._slot_freed = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()

    def _spawn_task(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def run(self) -> None:
        self._claiming = asyncio.create_task(self._claim_loop())
        self._heartbeats = asyncio.create_task(self._heartbeat_loop())
        try:
            await asyncio.gather(self._claiming, self._heartbeats)
        finally:
            self._claiming.cancel()
            self._heartbeats.cancel()

    async def stop(self, grace: float = 5.0) -> None:
        """Claim no more runs and ask every child to stop (SIGTERM); the runs they leave
        unfinished are reported as their processes exit (Crashed, or Cancelled when a cancel
        was under way), while heartbeats keep their leases. A child still there after `grace`
        seconds is killed."""
        claiming = getattr(self, "_claiming", None)
        if claiming is not None:
            claiming.cancel()
        for child in list(self.children.values()):
            if child.process.returncode is None:
                child.process.terminate()
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=grace)
            if pending:
                for child in list(self.children.values()):
                    if child.process.returncode is None:
                        child.process.kill()
                await asyncio.wait(pending, timeout=2.0)
        for task in list(self._tasks):
            task.cancel()

    # -- claiming ---------------------------------------------------------------------------
    async def _claim_loop(self) -> None:
        backoff = 0.2
        while True:
            free = self.config.max_concurrent_runs - len(self.children)
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            try:
                resp = await self.stub.ClaimFlowRuns(
                    pb.ClaimFlowRunsRequest(
                        worker_id=self.config.worker_id,
                        limit=free,
                        lease_seconds=self.config.lease_seconds,
                        wait_seconds=2.0,
                    ),
                    timeout=10,
                    metadata=self.config.metadata(),
                )
                backoff = 0.2
            except grpc.aio.AioRpcError as exc:
                log.warning(
                    "claiming runs failed (%s): %s; retrying in %.1fs",
                    exc.code().name,
                    exc.details(),
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            for run in resp.flow_runs:
                await self._start_child(run)

    async def _start_child(self, run: pb.FlowRun) -> None:
        try:
            self.config.allowlist.check(run.entrypoint)
        except EntrypointNotAllowed as exc:
            await self._refuse(run, str(exc))
            return
        env = dict(os.environ)
        env["CADENZA_ORCHESTRATOR"] = self.config.orchestrator
        # The child checks the entrypoint again; it must see this allowlist, with relative
        # directories (and the working-directory default) already resolved.
        env[ALLOWLIST_VARIABLE] = self.config.allowlist.as_setting()
        if self.config.api_token:
            env["CADENZA_API_TOKEN"] = self.config.api_token
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "executor.engine", run.id, env=env, stdin=asyncio.subprocess.DEVNULL
        )
        log.info("flow run %s (%s) started in process %d", run.id, run.entrypoint, process.pid)
        child = self.children[run.id] = Child(run.id, process, run.lease_epoch)
        self._spawn_task(self._watch_child(child))

    async def _refuse(self, run: pb.FlowRun, reason: str) -> None:
        """A claimed run whose code is not allowed ends Failed without a process to run it."""
        log.warning("flow run %s not started: %s", run.id, reason)
        try:
            await self.stub.SetFlowRunState(
                pb.SetFlowRunStateRequest(
                    flow_run_id=run.id,
                    state=spb.State(type=spb.STATE_TYPE_FAILED, message=reason),
                    force=True,
                ),
                timeout=10,
                metadata=self.config.metadata(),
            )
        except grpc.aio.AioRpcError as exc:
            # Its lease lapses unrenewed, and the orchestrator ends the run as Crashed.
            log.error("could not fail flow run %s: %s", run.id, exc.details())

    async def _watch_child(self, child: Child) -> None:
        code = await child.process.wait()
        try:
            await self._settle_after_exit(child, code)
        except grpc.aio.AioRpcError as exc:
            log.error(
                "could not settle flow run %s after its process exit: %s", child.flow_run_id, exc.details()
            )
        finally:
            # The run may have been claimed again meanwhile (a retry, a resume): its new child
            # is not this one, and stays known (its heartbeats keep its lease).
            if self.children.get(child.flow_run_id) is child:
                del self.children[child.flow_run_id]
            self._slot_freed.set()

    async def _settle_after_exit(self, child: Child, code: int) -> None:
        """An unfinished run whose process is gone must not stay unfinished."""
        resp = await self.stub.ReadFlowRun(
            pb.ReadFlowRunRequest(flow_run_id=child.flow_run_id), timeout=10, metadata=self.config.metadata()
        )
        if resp.flow_run.lease_epoch != child.lease_epoch:
            return  # claimed again since (by this executor or another): no longer this child's run
        state = resp.flow_run.state
        if state.type in _FINAL or (state.type == spb.STATE_TYPE_PAUSED and state.details.pause_reschedule):
            return
        if state.type == spb.STATE_TYPE_SCHEDULED:
            return  # handed back for a retry or a resume; another claim will pick it up
        how = _exit_description(code)
        if child.cancelling or state.type == spb.STATE_TYPE_CANCELLING:
            final = spb.State(
                type=spb.STATE_TYPE_CANCELLED, message=f"Flow run was cancelled; its process {how}."
            )
        else:
            final = spb.State(
                type=spb.STATE_TYPE_CRASHED, message=f"Flow run process {how} before the run finished."
            )
        log.warning(
            "flow run %s: process %s while %s", child.flow_run_id, how, spb.StateType.Name(state.type)
        )
        await self.stub.SetFlowRunState(
            pb.SetFlowRunStateRequest(flow_run_id=child.flow_run_id, state=final, force=True),
            timeout=10,
            metadata=self.config.metadata(),
        )

    # -- heartbeats and cancellation ----------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        # Four beats per lease: a lease survives two slow or lost heartbeats in a row.
        interval = max(self.config.lease_seconds / 4, 0.05)
        while True:
            await asyncio.sleep(interval)
            if not self.children:
                continue
            try:
                resp = await self.stub.Heartbeat(
                    pb.HeartbeatRequest(
                        worker_id=self.config.worker_id,
                        flow_run_ids=list(self.children),
                        lease_seconds=self.config.lease_seconds,
                    ),
                    timeout=max(self.config.lease_seconds / 2, 0.5),
                    metadata=self.config.metadata(),
                )
            except grpc.aio.AioRpcError as exc:
                log.warning("heartbeat failed (%s): %s", exc.code().name, exc.details())
                continue
            for run_id in resp.cancel_requested:
                child = self.children.get(run_id)
                if child is not None and not child.cancelling:
                    child.cancelling = True
                    self._spawn_task(self._enforce_cancel(child))
            for run_id in resp.lost:
                child = self.children.get(run_id)
                if child is not None and child.process.returncode is None:
                    self._spawn_task(self._stop_if_taken_away(child))

    async def _stop_if_taken_away(self, child: Child) -> None:
        """The orchestrator no longer counts this run as ours (its lease lapsed and it was
        marked Crashed, or it was cancelled and cleaned up): a child still working on it would
        be a zombie, so it is stopped. A run that just finished normally is left to exit."""
        resp = await self.stub.ReadFlowRun(
            pb.ReadFlowRunRequest(flow_run_id=child.flow_run_id), timeout=10, metadata=self.config.metadata()
        )
        if resp.flow_run.state.type in (spb.STATE_TYPE_CRASHED, spb.STATE_TYPE_CANCELLED):
            try:
                await asyncio.wait_for(child.process.wait(), timeout=self.config.cancel_grace_seconds)
            except TimeoutError:
                log.warning(
                    "flow run %s was taken away from this executor; stopping its process", child.flow_run_id
                )
                child.process.kill()

    async def _enforce_cancel(self, child: Child) -> None:
        """The engine stops at its next task boundary; past the grace period, kill the child."""
        try:
            await asyncio.wait_for(child.process.wait(), timeout=self.config.cancel_grace_seconds)
        except TimeoutError:
            log.warning(
                "flow run %s did not stop within %.1fs of its cancel; killing it",
                child.flow_run_id,
                self.config.cancel_grace_seconds,
            )
            child.process.kill()
